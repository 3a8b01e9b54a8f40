//! `kubectl servicedb ...`: the kubectl plugin (its code is in src/plugin/).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    servicedb::plugin::main(std::env::args_os()).await
}
