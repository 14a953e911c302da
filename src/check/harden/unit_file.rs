//! A systemd unit as its files say it: the main file and its drop-ins, merged the way systemd
//! merges them (later files override earlier ones, key by key). Read from `systemctl cat`
//! when systemd runs, from the unit directories otherwise. Pure parsing over text, tested on
//! output captured from systemd 252 (tests/fixtures/systemd/cat-*.txt).

use std::path::{Path, PathBuf};

/// Where unit files live, most specific first: the first directory holding the unit wins;
/// drop-ins from all of them apply.
pub const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];
/// A unit file or drop-in bigger than this is not a unit file.
const MAX_UNIT_BYTES: u64 = 256 * 1024;

/// One `Key=value` line with the file and section it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub file: String,
    pub section: String,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitFile {
    /// Every file read, main file first, then drop-ins in the order systemd applies them.
    pub files: Vec<String>,
    pub settings: Vec<Setting>,
}

impl UnitFile {
    /// Parses `systemctl cat` output: each file introduced by a `# /path` line.
    pub fn parse_cat(text: &str) -> UnitFile {
        let mut unit = UnitFile::default();
        let mut section = String::new();
        let mut pending = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if pending.is_empty() {
                if let Some(path) = trimmed.strip_prefix("# /") {
                    unit.files.push(format!("/{path}"));
                    section.clear();
                    continue;
                }
            }
            let file = unit.files.last().cloned().unwrap_or_default();
            unit.line(&file, &mut section, &mut pending, line);
        }
        unit
    }

    /// Parses one file's text and appends it, as systemd does with each drop-in in turn.
    pub fn add_file(&mut self, file: &str, text: &str) {
        self.files.push(file.to_string());
        let mut section = String::new();
        let mut pending = String::new();
        for line in text.lines() {
            self.line(file, &mut section, &mut pending, line);
        }
    }

    /// One line; a trailing backslash continues the value on the next line.
    fn line(&mut self, file: &str, section: &mut String, pending: &mut String, line: &str) {
        let trimmed = line.trim();
        if pending.is_empty() && (trimmed.starts_with('#') || trimmed.starts_with(';')) {
            return;
        }
        if let Some(cont) = trimmed.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            return;
        }
        let full = format!("{pending}{trimmed}");
        pending.clear();
        if let Some(name) = full.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            *section = name.to_string();
            return;
        }
        if let Some((k, v)) = full.split_once('=') {
            self.settings.push(Setting {
                file: file.to_string(),
                section: section.clone(),
                key: k.trim().to_string(),
                value: v.trim().to_string(),
            });
        }
    }

    /// The value in force: the last non-empty assignment. systemd 252 ignores an empty
    /// `Restart=` in a drop-in (measured: `systemctl show` still says the earlier value), and
    /// none of the keys fixer reads is a list that an empty value would reset.
    pub fn get(&self, section: &str, key: &str) -> Option<&Setting> {
        self.settings
            .iter()
            .rev()
            .find(|s| s.section == section && s.key == key && !s.value.is_empty())
    }

    pub fn value(&self, section: &str, key: &str) -> Option<&str> {
        self.get(section, key).map(|s| s.value.as_str())
    }

    /// Drop-ins applied after `name` (systemd sorts them by file name): what they set wins
    /// over a drop-in called `name`.
    pub fn drop_ins_after(&self, name: &str) -> Vec<&str> {
        self.files
            .iter()
            .skip(1)
            .filter(|f| {
                Path::new(f)
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().as_ref() > name)
            })
            .map(String::as_str)
            .collect()
    }
}

/// Reads a unit from its files, without systemd: the main file from the first unit directory
/// that has it, then `UNIT.d/*.conf` from every directory, ordered by file name.
pub fn read_files(unit: &str, dirs: &[&str]) -> anyhow::Result<UnitFile> {
    let main = dirs
        .iter()
        .map(|d| Path::new(d).join(unit))
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow::anyhow!("no unit file {unit} in {}", dirs.join(", ")))?;
    let mut out = UnitFile::default();
    out.add_file(&main.display().to_string(), &read_bounded(&main)?);
    let mut drop_ins: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(Path::new(d).join(format!("{unit}.d"))).ok())
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    drop_ins.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
    for p in drop_ins {
        out.add_file(&p.display().to_string(), &read_bounded(&p)?);
    }
    Ok(out)
}

fn read_bounded(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_UNIT_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    Ok(text)
}

/// A systemd time span (`5`, `5s`, `100ms`, `1min 30s`, `infinity`) in milliseconds; `None`
/// for infinity or what does not parse.
pub fn span_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "infinity" {
        return None;
    }
    let mut total = 0u64;
    for word in text.split_whitespace() {
        let split = word
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(word.len());
        let (num, unit) = word.split_at(split);
        let n: f64 = num.parse().ok()?;
        let scale = match unit {
            "" | "s" | "sec" | "second" | "seconds" => 1000.0,
            "ms" | "msec" => 1.0,
            "us" | "usec" => 0.001,
            "m" | "min" | "minute" | "minutes" => 60_000.0,
            "h" | "hr" | "hour" | "hours" => 3_600_000.0,
            _ => return None,
        };
        total += (n * scale) as u64;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sys::systemd::tests::fixture;

    #[test]
    fn cat_output_merges_drop_ins_in_order() {
        let u = UnitFile::parse_cat(&fixture("cat-dropins.txt"));
        assert_eq!(
            u.files,
            [
                "/etc/systemd/system/app.service",
                "/etc/systemd/system/app.service.d/override.conf",
                "/etc/systemd/system/app.service.d/zz.conf"
            ]
        );
        // The drop-in's empty `Restart=` leaves on-failure in force, as systemd showed.
        assert_eq!(u.value("Service", "Restart"), Some("on-failure"));
        let sec = u.get("Service", "RestartSec").unwrap();
        assert_eq!(sec.value, "2");
        assert_eq!(sec.file, "/etc/systemd/system/app.service.d/zz.conf");
        assert_eq!(u.value("Service", "StandardInput"), Some("tty"));
        assert_eq!(u.value("Install", "WantedBy"), Some("multi-user.target"));
        assert_eq!(u.value("Unit", "Description"), Some("the app behind nginx"));
        // `systemctl edit`'s override.conf sorts after fixer's drop-in, and wins over it.
        assert_eq!(u.drop_ins_after("fixer-harden.conf"), &u.files[1..]);
    }

    #[test]
    fn comments_quotes_and_continuations() {
        let u = UnitFile::parse_cat(&fixture("cat-nginx.txt"));
        assert_eq!(u.files, ["/lib/systemd/system/nginx.service"]);
        assert_eq!(
            u.value("Service", "ExecStart"),
            Some("/usr/sbin/nginx -g 'daemon on; master_process on;'")
        );
        assert_eq!(u.value("Service", "Restart"), None);
        let mut u = UnitFile::default();
        u.add_file(
            "x.service",
            "[Service]\nExecStart=/bin/a \\\n  --flag\n; note\n",
        );
        assert_eq!(u.value("Service", "ExecStart"), Some("/bin/a  --flag"));
    }

    #[test]
    fn files_are_read_like_systemd_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        let lib = dir.path().join("lib");
        std::fs::create_dir_all(etc.join("a.service.d")).unwrap();
        std::fs::create_dir_all(lib.join("a.service.d")).unwrap();
        std::fs::write(lib.join("a.service"), "[Service]\nRestart=no\n").unwrap();
        std::fs::write(
            etc.join("a.service.d/20-b.conf"),
            "[Service]\nRestart=always\n",
        )
        .unwrap();
        std::fs::write(
            lib.join("a.service.d/10-a.conf"),
            "[Service]\nRestart=on-abort\n",
        )
        .unwrap();
        std::fs::write(etc.join("a.service.d/notes.txt"), "[Service]\nRestart=no\n").unwrap();
        let dirs = [etc.to_str().unwrap(), lib.to_str().unwrap()];
        let u = read_files("a.service", &dirs).unwrap();
        assert_eq!(u.files.len(), 3);
        assert_eq!(u.value("Service", "Restart"), Some("always"));
        assert!(read_files("b.service", &dirs).is_err());
    }

    #[test]
    fn time_spans() {
        assert_eq!(span_ms("5"), Some(5000));
        assert_eq!(span_ms("100ms"), Some(100));
        assert_eq!(span_ms("1min 30s"), Some(90_000));
        assert_eq!(span_ms("infinity"), None);
        assert_eq!(span_ms("soon"), None);
    }
}
