//! Progress bars for the long commands, drawn on stderr only when it is a terminal.
//!
//! Scripts and pipes see no bars and no summaries, so the commands' stderr stays
//! empty unless something failed.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// True when stderr is a terminal, the one case in which progress is shown.
pub fn interactive() -> bool {
    std::io::stderr().is_terminal()
}

/// A bar counting bytes up to `total` when it is known, else a spinner counting bytes;
/// `None` when stderr is not a terminal.
pub fn bytes(total: Option<u64>, message: &str) -> Option<ProgressBar> {
    let (bar, template) = match total {
        Some(total) => (
            ProgressBar::new(total),
            "{msg} [{bar:40}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})",
        ),
        None => {
            (ProgressBar::new_spinner(), "{spinner} {msg} {binary_bytes} ({binary_bytes_per_sec})")
        }
    };
    show(bar, template, message)
}

/// A bar counting `total` operations; `None` when stderr is not a terminal.
pub fn ops(total: u64, message: &str) -> Option<ProgressBar> {
    let template = "{msg:12} [{bar:40}] {human_pos}/{human_len} ({elapsed}, eta {eta})";
    show(ProgressBar::new(total), template, message)
}

/// A spinner for a step of unknown length; `None` when stderr is not a terminal.
pub fn spinner(message: &str) -> Option<ProgressBar> {
    show(ProgressBar::new_spinner(), "{spinner} {msg} ({elapsed})", message)
}

fn show(bar: ProgressBar, template: &str, message: &str) -> Option<ProgressBar> {
    if !interactive() {
        return None;
    }
    // The templates are constants, so a parse failure is a bug; the default style
    // still shows progress rather than failing the command over it.
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}
