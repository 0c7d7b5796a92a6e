//! What the examples share: argument parsing with `lexopt`, errors that name the file
//! and the problem (one line on stderr, exit code 1, or 2 for a usage error), and
//! progress that updates one line on a terminal and degrades to whole lines in a pipe.
//! Each example uses the part it needs.
#![allow(dead_code)]

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

pub use lexopt::prelude::*;

/// Why an example stopped: a usage error (exit code 2) or a failure (exit code 1).
pub enum Failure {
    Usage(String),
    Failed(String),
}

impl From<lexopt::Error> for Failure {
    fn from(e: lexopt::Error) -> Failure {
        Failure::Usage(e.to_string())
    }
}

impl From<edgegrad::Error> for Failure {
    fn from(e: edgegrad::Error) -> Failure {
        Failure::Failed(e.to_string())
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Failed(message)
    }
}

pub type Result<T = ()> = std::result::Result<T, Failure>;

/// Runs an example's body: `error: …` on stderr and a non-zero exit code on failure.
/// When the reader of its output goes away (`| head`), it stops quietly with the exit
/// code of a Unix tool killed by SIGPIPE (141) instead of panicking in `println!`.
pub fn main(run: impl FnOnce() -> Result) -> ExitCode {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map_or("", String::as_str);
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default_hook(info)
    }));
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message} (see --help)");
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The value of option `name`, parsed; the message names the option and what it takes.
pub fn parse<T: FromStr>(parser: &mut lexopt::Parser, name: &str, expected: &str) -> Result<T> {
    let value = parser.value()?;
    let text = value.to_string_lossy();
    text.parse()
        .map_err(|_| Failure::Usage(format!("{name} takes {expected}, not '{text}'")))
}

/// A count option that must be at least `min`.
pub fn count(parser: &mut lexopt::Parser, name: &str, min: u32) -> Result<u32> {
    let expected = format!("a whole number ≥ {min}");
    let n: u32 = parse(parser, name, &expected)?;
    if n < min {
        return Err(Failure::Usage(format!("{name} takes {expected}, not {n}")));
    }
    Ok(n)
}

/// A path option's value.
pub fn path(parser: &mut lexopt::Parser) -> Result<PathBuf> {
    Ok(PathBuf::from(parser.value()?))
}

/// The contents of a text file, or an error naming the file.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = read(path)?;
    String::from_utf8(bytes)
        .map_err(|e| Failure::Failed(format!("{}: not UTF-8 text ({e})", path.display())))
}

/// The contents of a file, or an error naming the file.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| Failure::Failed(format!("cannot read {}: {}", path.display(), reason(&e))))
}

/// Checks, before any work, that `path` can be written: its directory exists and it is
/// not itself a directory.
pub fn writable(path: &Path) -> Result {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Failure::Failed(format!(
            "cannot write {}: the directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    if path.is_dir() {
        return Err(Failure::Failed(format!(
            "cannot write {}: it is a directory",
            path.display()
        )));
    }
    Ok(())
}

/// Writes a file, or an error naming it.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result {
    std::fs::write(path, bytes)
        .map_err(|e| Failure::Failed(format!("cannot write {}: {}", path.display(), reason(&e))))
}

/// An I/O error's reason without Rust's `(os error N)` suffix.
fn reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// A progress line: rewritten in place on a terminal, silent in a pipe until
/// [`finish`](Progress::finish) prints the final line (so a log keeps one line per
/// stage instead of one very long line of carriage returns).
pub struct Progress {
    terminal: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            terminal: std::io::stdout().is_terminal(),
        }
    }

    /// Shows `line` as the current state (terminal only).
    pub fn update(&self, line: impl Display) {
        if self.terminal {
            print!("\r{line}\x1b[K");
            let _ = std::io::stdout().flush();
        }
    }

    /// Ends the stage with `line`, on a line of its own.
    pub fn finish(&self, line: impl Display) {
        if self.terminal {
            println!("\r{line}\x1b[K");
        } else {
            println!("{line}");
        }
    }
}
