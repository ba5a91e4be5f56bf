//! One module per subcommand; each has an `Args` struct (its `--help`) and a
//! `run(args) -> anyhow::Result<ExitCode>`.

pub mod bench;
pub mod eval;
pub mod manifest;
pub mod models;
pub mod serve;
pub mod summarize;
pub mod translate;
