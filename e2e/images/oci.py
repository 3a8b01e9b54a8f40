#!/usr/bin/env python3
"""OCI image layouts without Docker, for e2e/images.sh (stdlib only).

  oci.py pack --rootfs DIR --out TAR --name localhost/servicedb/x:tag [config flags]
      One uncompressed layer (GNU tar: numeric owners, sorted names, clamped
      mtimes), its config, manifest and index.json in an OCI image-layout tar
      that `ctr images import` (containerd 2.x) takes: the index's manifest
      descriptor carries `io.containerd.image.name` (the full name) and
      `org.opencontainers.image.ref.name` (the tag).
  oci.py unpack TAR DIR
      The layer of such a tar into DIR (a root filesystem), as root.
  oci.py runtime-config --image TAR --template config.json --rootfs DIR [...]
      A runc config.json that runs the image the way the kubelet would:
      Entrypoint + Cmd, or Entrypoint + --args (Kubernetes `args`), the
      image's Env under --env, its User unless --user, WorkingDir.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

# A fixed time for the image config and the clamp of file mtimes (2025-01-01).
EPOCH = 1735689600
CREATED = "2025-01-01T00:00:00Z"
MEDIA = {
    "index": "application/vnd.oci.image.index.v1+json",
    "manifest": "application/vnd.oci.image.manifest.v1+json",
    "config": "application/vnd.oci.image.config.v1+json",
    "layer": "application/vnd.oci.image.layer.v1.tar",
}


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def write_blob(blobs, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def write_layer(rootfs, blobs):
    """The root filesystem as one tar blob; returns (digest, size)."""
    members = sorted(os.listdir(rootfs))
    tmp = os.path.join(blobs, "layer.tmp")
    cmd = ["tar", "--create", "--format=gnu", "--numeric-owner", "--sort=name",
           "--mtime=@%d" % EPOCH, "--clamp-mtime", "--directory", rootfs, "--file", "-", "--"] + members
    sha = hashlib.sha256()
    size = 0
    with open(tmp, "wb") as out, subprocess.Popen(cmd, stdout=subprocess.PIPE) as proc:
        for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):
            sha.update(chunk)
            out.write(chunk)
            size += len(chunk)
    if proc.returncode != 0:
        sys.exit("tar of %s failed (exit %d)" % (rootfs, proc.returncode))
    os.rename(tmp, os.path.join(blobs, sha.hexdigest()))
    return "sha256:" + sha.hexdigest(), size


def image_config(args, diff_id):
    config = {"User": args.user, "Env": args.env, "WorkingDir": args.workdir}
    if args.entrypoint:
        config["Entrypoint"] = json.loads(args.entrypoint)
    if args.cmd:
        config["Cmd"] = json.loads(args.cmd)
    if args.stop_signal:
        config["StopSignal"] = args.stop_signal
    if args.port:
        config["ExposedPorts"] = {p: {} for p in args.port}
    if args.label:
        config["Labels"] = dict(label.split("=", 1) for label in args.label)
    return {
        "created": CREATED,
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": CREATED, "created_by": "e2e/images.sh " + args.name}],
    }


def pack(args):
    if "PATH" not in {e.split("=", 1)[0] for e in args.env}:
        sys.exit("pack: the image needs PATH in --env")
    tag = args.name.rsplit(":", 1)[1] if ":" in args.name.rsplit("/", 1)[-1] else "latest"
    layout = tempfile.mkdtemp(prefix="oci-", dir=os.path.dirname(os.path.abspath(args.out)))
    try:
        blobs = os.path.join(layout, "blobs", "sha256")
        os.makedirs(blobs)
        layer_digest, layer_size = write_layer(args.rootfs, blobs)
        config_digest, config_size = write_blob(blobs, canonical(image_config(args, layer_digest)))
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA["manifest"],
            "config": {"mediaType": MEDIA["config"], "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": MEDIA["layer"], "digest": layer_digest, "size": layer_size}],
        }
        manifest_digest, manifest_size = write_blob(blobs, canonical(manifest))
        index = {
            "schemaVersion": 2,
            "mediaType": MEDIA["index"],
            "manifests": [{
                "mediaType": MEDIA["manifest"],
                "digest": manifest_digest,
                "size": manifest_size,
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {
                    "io.containerd.image.name": args.name,
                    "org.opencontainers.image.ref.name": tag,
                },
            }],
        }
        with open(os.path.join(layout, "index.json"), "wb") as f:
            f.write(canonical(index))
        with open(os.path.join(layout, "oci-layout"), "wb") as f:
            f.write(canonical({"imageLayoutVersion": "1.0.0"}))
        subprocess.run(["tar", "--create", "--format=gnu", "--numeric-owner", "--owner=0", "--group=0",
                        "--sort=name", "--mtime=@%d" % EPOCH, "--directory", layout, "--file", args.out,
                        "oci-layout", "index.json", "blobs"], check=True)
    finally:
        shutil.rmtree(layout, ignore_errors=True)


def read_image(path):
    """(config, layer member name) of an image-layout tar made by pack."""
    with tarfile.open(path) as t:
        blob = lambda d: t.extractfile("blobs/sha256/" + d.split(":", 1)[1]).read()
        index = json.loads(t.extractfile("index.json").read())
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        config = json.loads(blob(manifest["config"]["digest"]))
        layers = ["blobs/sha256/" + l["digest"].split(":", 1)[1] for l in manifest["layers"]]
    return config, layers


def unpack(args):
    _, layers = read_image(args.tar)
    os.makedirs(args.dir, exist_ok=True)
    for layer in layers:
        extract = subprocess.Popen(["tar", "--extract", "--numeric-owner", "--same-permissions",
                                    "--directory", args.dir, "--file", "-"], stdin=subprocess.PIPE)
        with tarfile.open(args.tar) as t:
            shutil.copyfileobj(t.extractfile(layer), extract.stdin, 1 << 20)
        extract.stdin.close()
        if extract.wait() != 0:
            sys.exit("unpack of %s failed" % args.tar)


def runtime_config(args):
    image = read_image(args.image)[0]["config"]
    with open(args.template) as f:
        spec = json.load(f)
    process = spec["process"]
    entrypoint = json.loads(args.command) if args.command else image.get("Entrypoint") or []
    cmd = json.loads(args.args) if args.args is not None else ([] if args.command else image.get("Cmd") or [])
    process["args"] = entrypoint + cmd
    env = dict(e.split("=", 1) for e in image.get("Env", []))
    env.update(e.split("=", 1) for e in args.env)
    process["env"] = ["%s=%s" % kv for kv in env.items()]
    process["cwd"] = image.get("WorkingDir") or "/"
    uid, _, gid = (args.user or image.get("User") or "0").partition(":")
    process["user"] = {"uid": int(uid), "gid": int(gid or uid), "additionalGids": [int(gid or uid)]}
    process["terminal"] = False
    process["noNewPrivileges"] = True
    # The operator's securityContext drops every capability.
    process["capabilities"] = {k: [] for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}
    process["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096}]
    spec["root"] = {"path": os.path.abspath(args.rootfs), "readonly": True}
    spec["hostname"] = args.hostname
    for m in args.mount:  # tmpfs:/dst[:mode] or bind:/src:/dst[:ro]
        kind, rest = m.split(":", 1)
        if kind == "tmpfs":
            dst, _, mode = rest.partition(":")
            spec["mounts"].append({"destination": dst, "type": "tmpfs", "source": "tmpfs",
                                   "options": ["nosuid", "nodev", "mode=" + (mode or "1777")]})
        else:
            src, dst, *ro = rest.split(":")
            spec["mounts"].append({"destination": dst, "type": "bind", "source": src,
                                   "options": ["rbind", "ro" if ro else "rw"]})
    linux = spec["linux"]
    linux["namespaces"] = [n for n in linux["namespaces"] if n["type"] != "network"]
    linux["namespaces"].append({"type": "network", "path": args.netns})
    linux["cgroupsPath"] = "/servicedb-selftest/" + args.hostname
    with open(os.path.join(args.bundle, "config.json"), "w") as f:
        json.dump(spec, f, indent=1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    a = sub.add_parser("pack")
    a.add_argument("--rootfs", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--name", required=True)
    a.add_argument("--user", default="0:0")
    a.add_argument("--entrypoint")
    a.add_argument("--cmd")
    a.add_argument("--env", action="append", default=[])
    a.add_argument("--workdir", default="/")
    a.add_argument("--stop-signal")
    a.add_argument("--port", action="append", default=[])
    a.add_argument("--label", action="append", default=[])
    a.set_defaults(run=pack)
    u = sub.add_parser("unpack")
    u.add_argument("tar")
    u.add_argument("dir")
    u.set_defaults(run=unpack)
    r = sub.add_parser("runtime-config")
    r.add_argument("--image", required=True)
    r.add_argument("--template", required=True)
    r.add_argument("--rootfs", required=True)
    r.add_argument("--bundle", required=True)
    r.add_argument("--netns", required=True)
    r.add_argument("--hostname", required=True)
    r.add_argument("--user")
    r.add_argument("--command", help="JSON list: replaces the Entrypoint")
    r.add_argument("--args", help="JSON list: replaces the Cmd")
    r.add_argument("--env", action="append", default=[])
    r.add_argument("--mount", action="append", default=[])
    r.set_defaults(run=runtime_config)
    args = p.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
