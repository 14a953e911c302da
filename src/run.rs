//! From parsed arguments to an exit code. Kept apart from `main` so tests can call it.

use crate::chain::{self, Quiet};
use crate::cli::{Cli, Command, TargetArgs};
use crate::exit_code::ExitCode;
use crate::report::{self, human::Human, Style};
use crate::{config, playbook};

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Diagnose(args) => diagnose(&args, cli.color),
        Command::Playbooks => playbooks(cli.color),
        Command::Lab { command } => lab(&command),
    }
}

fn resolve(args: &TargetArgs) -> Result<crate::target::Target, ExitCode> {
    config::resolve(args).map_err(|e| {
        report::error(&e.into());
        ExitCode::Usage
    })
}

fn diagnose(args: &TargetArgs, color: crate::cli::ColorChoice) -> ExitCode {
    let target = match resolve(args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let style = Style::detect(color, args.json);
    if args.json {
        let d = chain::diagnose(&target, &mut Quiet);
        report::json::print(&report::json::diagnosis("diagnose", &target, &d));
        return d.exit_code();
    }
    let mut human = Human::new(style);
    human.header("diagnose", &target);
    let d = chain::diagnose(&target, &mut human);
    human.summary(&d);
    d.exit_code()
}

fn playbooks(color: crate::cli::ColorChoice) -> ExitCode {
    let style = Style::detect(color, false);
    report::human::playbooks(style, &playbook::lookup::list());
    ExitCode::Healthy
}

fn lab(command: &crate::cli::LabCommand) -> ExitCode {
    let mut out = std::io::stdout();
    match crate::lab::command::run(command, &mut out) {
        Ok(()) => ExitCode::Healthy,
        Err(e) => {
            report::error(&e);
            ExitCode::Usage
        }
    }
}
