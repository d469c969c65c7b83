//! A command's output on stdout. A reader that goes away early
//! (`photosync sync DIR | head -2`) is not an error: the work is done and
//! recorded, so the rest of the output is dropped quietly instead of the
//! process panicking with exit code 101 as `println!` would.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout cannot be written: later lines are not even tried.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Prints one line of output (use the [`say!`](crate::say) macro).
pub fn say(line: std::fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(line)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    if let Err(e) = written {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("photosync: cannot write the output: {e}");
        }
    }
}

/// `println!` for command output, quiet when the reader has gone.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::commands::say(format_args!($($arg)*))
    };
}
