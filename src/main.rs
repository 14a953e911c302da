use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = fixer::cli::Cli::parse();
    fixer::run::run(cli).into()
}
