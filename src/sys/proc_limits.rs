//! A process's resource limits as the kernel shows them (`/proc/PID/limits`): nginx's open-files
//! limit bounds how many connections its workers can hold, whatever `worker_connections` says.

/// `Max open files` of a process: soft and hard, `None` for unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

pub fn open_files(pid: i32) -> Option<OpenFiles> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    parse_open_files(&text)
}

/// `Max open files            1024                 524288               files`.
pub fn parse_open_files(text: &str) -> Option<OpenFiles> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let mut values = line["Max open files".len()..].split_whitespace();
    let value = |v: Option<&str>| match v? {
        "unlimited" => Some(None),
        n => n.parse().ok().map(Some),
    };
    Some(OpenFiles {
        soft: value(values.next())?,
        hard: value(values.next())?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_open_files_line() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max processes             unlimited            unlimited            processes \n\
                    Max open files            1024                 524288               files     \n";
        let o = super::parse_open_files(text).unwrap();
        assert_eq!((o.soft, o.hard), (Some(1024), Some(524288)));
        assert_eq!(
            super::parse_open_files("Max open files  unlimited unlimited files")
                .unwrap()
                .soft,
            None
        );
        assert_eq!(super::parse_open_files("nothing"), None);
    }
}
