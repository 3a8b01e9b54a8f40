//! Entry points of the fuzz targets (`fuzz/`, `make fuzz`): everything that
//! reads text a user, a pod or a backup store wrote. Each takes arbitrary
//! bytes and must return; where a reader has a property beyond not
//! panicking (quoting reads back as what was quoted, a redacted message
//! holds no secret), it is asserted here, so a violation is a crash the
//! fuzzer reports.

use crate::api::ServiceDatabase;
use crate::backup::Manifest;
use crate::backup::layout::{backup_id, id_time};
use crate::controller::backups::{failure_of, manifest_of};
use crate::controller::database::administer::override_in;
use crate::controller::database::instance_pod;
use crate::controller::database::validate;
use crate::engine::admin::quote::{mysql_ident, mysql_literal, pg_ident, pg_literal};
use crate::engine::{ImageCatalog, Images};
use k8s_openapi::api::core::v1::{ContainerState, ContainerStateTerminated, ContainerStatus, Pod, PodStatus};
use k8s_openapi::jiff::Timestamp;

/// A ServiceDatabase as the API server would hand it over (JSON), checked
/// as the reconcile checks it.
pub fn spec(data: &[u8]) {
    let Ok(sdb) = serde_json::from_slice::<ServiceDatabase>(data) else { return };
    if let Err(invalid) = validate::spec(&sdb, &Images::Official) {
        assert!(!invalid.message.trim().is_empty(), "an invalid spec says what to fix");
    }
    let _ = validate::against_live(None, &sdb.spec);
}

/// Reads a quoted token as the server's lexer would: the text it stands
/// for, and the bytes after its closing quote.
fn unquote(quoted: &str, quote: char, backslash_escapes: bool) -> (String, &str) {
    let body = quoted.strip_prefix(quote).unwrap_or_else(|| panic!("{quoted:?} does not open with {quote}"));
    let mut text = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if backslash_escapes && c == '\\' {
            let (_, escaped) = chars.next().unwrap_or_else(|| panic!("{quoted:?} ends in a lone backslash"));
            text.push(escaped);
        } else if c == quote {
            if chars.peek().is_some_and(|(_, next)| *next == quote) {
                chars.next();
                text.push(quote);
            } else {
                return (text, &body[at + c.len_utf8()..]);
            }
        } else {
            text.push(c);
        }
    }
    panic!("{quoted:?} is never closed")
}

/// Every engine's quoting of identifiers and literals reads back as exactly
/// the input (literals without NUL, which no server accepts), and nothing
/// follows the closing quote: no input can end the token early.
pub fn quoting(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let without_nul = input.replace('\0', "");
    let cases = [
        (pg_ident(input), '"', false, input),
        (pg_literal(input), '\'', false, without_nul.as_str()),
        (mysql_ident(input), '`', false, input),
        (mysql_literal(input), '\'', true, without_nul.as_str()),
    ];
    for (quoted, quote, backslash_escapes, expected) in cases {
        let (read, rest) = unquote(&quoted, quote, backslash_escapes);
        assert_eq!(read, expected, "{quoted} reads back as another text");
        assert!(rest.is_empty(), "{quoted} closes early, before {rest:?}");
    }
}

/// A backup manifest as read from a store: parsed, and written back the same.
pub fn manifest(data: &[u8]) {
    let Ok(manifest) = serde_json::from_slice::<Manifest>(data) else { return };
    let written = serde_json::to_vec(&manifest).unwrap_or_else(|e| panic!("a read manifest does not write: {e}"));
    let again: Manifest = serde_json::from_slice(&written).unwrap_or_else(|e| panic!("a written manifest: {e}"));
    assert_eq!(again, manifest);
}

/// Backup ids as listed in a store: any name is read without a panic, and
/// the ids the operator writes give back their second.
pub fn backup_ids(data: &[u8]) {
    if let Ok(name) = std::str::from_utf8(data) {
        let _ = id_time(name);
    }
    let Some((seconds, random)) = data.split_first_chunk::<8>().map(|(s, rest)| (i64::from_le_bytes(*s), rest)) else {
        return;
    };
    // From 1970 to the end of 9999: the id's %Y has four digits.
    let Ok(started) = Timestamp::from_second(seconds.rem_euclid(253_402_300_800)) else { return };
    let random = random.first_chunk::<2>().map_or(0, |r| u16::from_le_bytes(*r));
    let id = backup_id(started, random);
    assert_eq!(id_time(&id), Some(started), "{id} does not give back its start");
}

/// The endpoint overrides file (`--endpoint-overrides`).
pub fn endpoint_overrides(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(Some(target)) = override_in(text, "shop", "orders-db") {
        let written = serde_json::json!({ "shop/orders-db": format!("{}:{}", target.host, target.port) }).to_string();
        let again = override_in(&written, "shop", "orders-db");
        assert_eq!(again, Ok(Some(target)), "an override does not read back from {written}");
    }
}

/// The image catalogue file (`--image-catalog`).
pub fn image_catalog(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = ImageCatalog::parse(std::path::Path::new("catalog.yaml"), text) {
        assert!(e.to_string().contains("catalog.yaml"), "the error names the file: {e}");
    }
}

/// Termination messages: a backup pod's (its manifest, or why it failed)
/// and a database container's, which reaches the status without any of
/// the instance's secrets. The input is split at its first NUL into the
/// secrets (one per line, as generated: no whitespace) and the message.
pub fn termination_message(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (secrets, message) = text.split_once('\0').unwrap_or(("", &text));
    // As the instance's secrets are: generated ones are 48 letters and
    // digits, derived ones (hashes, verifiers) longer, in base64 and `$:*-`.
    // A short one could be any word of the sentence around the message, one
    // with its punctuation could run from the message into it, and one with
    // '<' or '>' could join the "<redacted>" next to it (tests/fuzz_inputs.rs
    // shows how).
    let secret_char = |c: char| c.is_ascii_alphanumeric() || "+/=$:*-".contains(c);
    let secrets: Vec<&str> = secrets.lines().filter(|s| s.len() >= 16 && s.chars().all(secret_char)).collect();
    for exit_code in [0, 1] {
        let pod = terminated_pod(exit_code, Some(message.to_string()), message.to_string());
        let _ = manifest_of(std::slice::from_ref(&pod));
        let _ = failure_of(std::slice::from_ref(&pod));
        assert_redacted(&pod, &secrets);
    }
}

/// Panics when the failure the status would show of `pod` holds one of `secrets`.
pub fn assert_redacted(pod: &Pod, secrets: &[&str]) {
    if let Some(failure) = instance_pod::failure_of(pod, secrets) {
        let shown = failure.to_string();
        for secret in secrets {
            assert!(!shown.contains(secret), "{shown:?} shows the secret {secret:?}");
        }
    }
}

/// A pod whose database container exited with `exit_code`, leaving `message`.
pub fn terminated_pod(exit_code: i32, reason: Option<String>, message: String) -> Pod {
    let terminated = ContainerStateTerminated { exit_code, reason, message: Some(message), ..Default::default() };
    let status = ContainerStatus {
        name: "db".into(),
        state: Some(ContainerState { terminated: Some(terminated), ..Default::default() }),
        ..Default::default()
    };
    Pod {
        status: Some(PodStatus { container_statuses: Some(vec![status]), ..Default::default() }),
        ..Default::default()
    }
}
