//! A reader that stops early (`fixer diagnose | head`) closes stdout under fixer: the run
//! still ends with its own exit code and writes its --report file, with no panic and no
//! message about the closed pipe.

mod common;

use std::process::Stdio;

use common::{lab, lab_command};
use fixer::lab::Fault;

fn with_closed_stdout(args: &[&str], lab: &fixer::lab::Lab) -> (i32, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = lab_command(lab, args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_stdout_ends_with_the_diagnosis_exit_code_and_its_report_file() {
    let (_dir, lab) = lab(Fault::BackendDown);
    let report = lab.dir.join("incident.md");
    let report_arg = report.display().to_string();
    for json in [false, true] {
        let mut args = vec!["diagnose", "--report", &report_arg];
        if json {
            args.push("--json");
        }
        let (code, stderr) = with_closed_stdout(&args, &lab);
        assert_eq!(code, 1, "json {json}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains("Broken pipe"), "{stderr}");
        let text = std::fs::read_to_string(&report).unwrap();
        assert!(text.contains("Root cause"), "{text}");
        std::fs::remove_file(&report).unwrap();
    }
}
