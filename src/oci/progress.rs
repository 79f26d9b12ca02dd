//! Upload progress on stderr: redrawn per-blob bars on a terminal, plain periodic lines in CI logs, or nothing.
//!
//! Uploads only bump atomic counters; a single ticker renders, so the hot path never takes a lock or writes to
//! the terminal. Finished blobs get one permanent line each; on a terminal only the blobs still uploading (at most
//! the upload concurrency) are redrawn, which keeps the redraw inside the screen however many layers there are.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How upload progress is shown; everything goes to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Progress {
    /// Bars when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Per-blob lines redrawn in place (ANSI cursor movement).
    Bars,
    /// Plain lines at most every few seconds, for CI logs.
    Lines,
    /// Nothing.
    Quiet,
}

impl Progress {
    fn resolve(self) -> Progress {
        match self {
            Progress::Auto if std::io::stderr().is_terminal() => Progress::Bars,
            Progress::Auto => Progress::Lines,
            other => other,
        }
    }
}

const QUEUED: u8 = 0;
const UPLOADING: u8 = 1;
const DONE: u8 = 2;
const SKIPPED: u8 = 3;
const FAILED: u8 = 4;

/// Redraw period on a terminal.
const BAR_TICK: Duration = Duration::from_millis(250);
/// Plain mode prints finished blobs within this delay and progress lines for running ones every `LINE_PERIOD`.
const LINE_TICK: Duration = Duration::from_millis(500);
const LINE_PERIOD: Duration = Duration::from_secs(5);

/// One blob's progress, shared between its upload and the ticker.
pub struct Track {
    label: String,
    total: u64,
    sent: AtomicU64,
    state: AtomicU8,
    reported: AtomicBool,
    times: Mutex<(Option<Instant>, Option<Instant>)>,
}

impl Track {
    /// An upload attempt starts (again): counts restart from zero so a retry doesn't overstate progress.
    pub fn start(&self) {
        self.sent.store(0, Ordering::Relaxed);
        self.state.store(UPLOADING, Ordering::Relaxed);
        if let Ok(mut times) = self.times.lock() {
            *times = (Some(Instant::now()), None);
        }
    }

    pub fn add(&self, bytes: u64) {
        self.sent.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn done(&self) {
        self.finish(DONE);
    }

    pub fn skipped(&self) {
        self.finish(SKIPPED);
    }

    pub fn failed(&self) {
        self.finish(FAILED);
    }

    fn finish(&self, state: u8) {
        if let Ok(mut times) = self.times.lock() {
            times.1 = Some(Instant::now());
        }
        self.state.store(state, Ordering::Relaxed);
    }

    fn elapsed(&self, now: Instant) -> Duration {
        match self.times.lock() {
            Ok(times) => match *times {
                (Some(start), Some(end)) => end.saturating_duration_since(start),
                (Some(start), None) => now.saturating_duration_since(start),
                _ => Duration::ZERO,
            },
            Err(_) => Duration::ZERO,
        }
    }

    fn progress_line(&self, now: Instant, bar: bool) -> String {
        let sent = self.sent.load(Ordering::Relaxed).min(self.total);
        let percent = sent.saturating_mul(100).checked_div(self.total).unwrap_or(100);
        let rate = rate(sent, self.elapsed(now));
        let mut line = format!("{}: ", self.label);
        if bar {
            let filled = usize::try_from(percent / 5).unwrap_or(20).min(20);
            let _ = write!(line, "[{}{}] ", "=".repeat(filled), " ".repeat(20 - filled));
        }
        let _ = write!(line, "{percent}% ({} of {}, {rate})", human(sent), human(self.total));
        line
    }

    fn final_line(&self, now: Instant) -> Option<String> {
        let elapsed = self.elapsed(now);
        match self.state.load(Ordering::Relaxed) {
            DONE => Some(format!(
                "{}: pushed {} in {:.1}s ({})",
                self.label,
                human(self.total),
                elapsed.as_secs_f64(),
                rate(self.total, elapsed)
            )),
            SKIPPED => Some(format!("{}: already in the repository", self.label)),
            FAILED => Some(format!("{}: failed", self.label)),
            _ => None,
        }
    }
}

/// All tracks of one push and the state of their rendering.
pub struct Tracker {
    mode: Progress,
    tracks: Mutex<Vec<Arc<Track>>>,
    notices: Mutex<Vec<String>>,
    /// True while `run` renders; otherwise notices are printed at once.
    live: AtomicBool,
    render: Mutex<RenderState>,
}

#[derive(Default)]
struct RenderState {
    drawn: usize,
    last_periodic: Option<Instant>,
}

impl Tracker {
    pub fn new(mode: Progress) -> Tracker {
        Tracker {
            mode: mode.resolve(),
            tracks: Mutex::new(Vec::new()),
            notices: Mutex::new(Vec::new()),
            live: AtomicBool::new(false),
            render: Mutex::new(RenderState::default()),
        }
    }

    pub fn track(&self, label: String, total: u64) -> Arc<Track> {
        let track = Arc::new(Track {
            label,
            total,
            sent: AtomicU64::new(0),
            state: AtomicU8::new(QUEUED),
            reported: AtomicBool::new(false),
            times: Mutex::new((None, None)),
        });
        if let Ok(mut tracks) = self.tracks.lock() {
            tracks.push(track.clone());
        }
        track
    }

    /// Renders until dropped (run it in a `select!` next to the uploads).
    pub async fn run(&self) {
        let tick = if self.mode == Progress::Bars { BAR_TICK } else { LINE_TICK };
        if self.mode == Progress::Quiet {
            return std::future::pending().await;
        }
        struct Live<'a>(&'a AtomicBool);
        impl Drop for Live<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::SeqCst);
            }
        }
        self.live.store(true, Ordering::SeqCst);
        let _live = Live(&self.live);
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            self.render(false);
        }
    }

    /// Prints what is left: every finished blob's line, and clears the redrawn area.
    pub fn finish(&self) {
        self.render(true);
    }

    /// A line about something that happened (a retry), printed above the bars at the next render.
    pub fn notice(&self, line: String) {
        if self.mode == Progress::Quiet {
            return;
        }
        if !self.live.load(Ordering::SeqCst) {
            return self.note(&line);
        }
        if let Ok(mut notices) = self.notices.lock() {
            notices.push(line);
        }
    }

    /// A one-off line (manifest and tag results); only used when no bars are on screen.
    pub fn note(&self, line: &str) {
        if self.mode != Progress::Quiet {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    fn render(&self, last: bool) {
        let text = self.render_text(Instant::now(), last);
        if !text.is_empty() {
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(text.as_bytes());
            let _ = stderr.flush();
        }
    }

    fn render_text(&self, now: Instant, last: bool) -> String {
        if self.mode == Progress::Quiet {
            return String::new();
        }
        let tracks = match self.tracks.lock() {
            Ok(tracks) => tracks.clone(),
            Err(_) => return String::new(),
        };
        let Ok(mut state) = self.render.lock() else { return String::new() };
        let mut out = String::new();
        let bars = self.mode == Progress::Bars;
        if bars && state.drawn > 0 {
            // Up to the first redrawn line, then clear to the end of the screen.
            let _ = write!(out, "\x1b[{}A\r\x1b[J", state.drawn);
            state.drawn = 0;
        }
        if let Ok(mut notices) = self.notices.lock() {
            for line in notices.drain(..) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        for track in &tracks {
            if let Some(line) = track.final_line(now)
                && !track.reported.swap(true, Ordering::Relaxed)
            {
                out.push_str(&line);
                out.push('\n');
            }
        }
        let uploading = tracks.iter().filter(|t| t.state.load(Ordering::Relaxed) == UPLOADING);
        if bars && !last {
            for track in uploading {
                out.push_str(&track.progress_line(now, true));
                out.push('\n');
                state.drawn += 1;
            }
        } else if self.mode == Progress::Lines && !last {
            let due = state.last_periodic.is_none_or(|at| now.saturating_duration_since(at) >= LINE_PERIOD);
            let mut printed = false;
            for track in uploading {
                if due && track.elapsed(now) >= LINE_PERIOD {
                    out.push_str(&track.progress_line(now, false));
                    out.push('\n');
                    printed = true;
                }
            }
            if printed || state.last_periodic.is_none() {
                state.last_periodic = Some(now);
            }
        }
        out
    }
}

/// Decimal units, as docker prints sizes.
pub fn human(bytes: u64) -> String {
    const UNITS: [(&str, f64); 3] = [("GB", 1e9), ("MB", 1e6), ("kB", 1e3)];
    let value = bytes as f64;
    for (unit, scale) in UNITS {
        if value >= scale {
            let scaled = value / scale;
            return if scaled < 10.0 { format!("{scaled:.1} {unit}") } else { format!("{scaled:.0} {unit}") };
        }
    }
    format!("{bytes} B")
}

fn rate(bytes: u64, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    if seconds < 0.001 {
        return "- B/s".to_string();
    }
    format!("{}/s", human((bytes as f64 / seconds) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(human(999), "999 B");
        assert_eq!(human(80_000_000), "80 MB");
        assert_eq!(human(1_500_000), "1.5 MB");
        assert_eq!(human(2_000_000_000), "2.0 GB");
    }

    #[test]
    fn plain_lines_name_the_layer_and_show_percent_size_and_rate() {
        let tracker = Tracker::new(Progress::Lines);
        let track = tracker.track("layer sha256:abcd…".into(), 200_000_000);
        track.start();
        track.add(80_000_000);
        let start = track.times.lock().unwrap().0.unwrap();
        let line = track.progress_line(start + Duration::from_secs(1), false);
        assert_eq!(line, "layer sha256:abcd…: 40% (80 MB of 200 MB, 80 MB/s)");
        // Nothing is printed for a blob running for less than the period, and a finished one is printed once.
        assert_eq!(tracker.render_text(start + Duration::from_secs(1), false), "");
        let later = tracker.render_text(start + Duration::from_secs(6), false);
        assert!(later.starts_with("layer sha256:abcd…: 40%"), "{later}");
        assert_eq!(tracker.render_text(start + Duration::from_secs(7), false), "");
        track.done();
        let done = tracker.render_text(Instant::now(), true);
        assert!(done.contains("pushed 200 MB"), "{done}");
        assert_eq!(tracker.render_text(Instant::now(), true), "");
    }

    #[test]
    fn quiet_prints_nothing() {
        let tracker = Tracker::new(Progress::Quiet);
        let track = tracker.track("layer a".into(), 100);
        track.start();
        track.done();
        tracker.notice("retrying".into());
        assert_eq!(tracker.render_text(Instant::now(), true), "");
    }

    #[test]
    fn bars_redraw_only_running_uploads() {
        let tracker = Tracker::new(Progress::Bars);
        let a = tracker.track("layer a".into(), 100);
        let b = tracker.track("layer b".into(), 100);
        a.start();
        b.start();
        a.add(50);
        let first = tracker.render_text(Instant::now(), false);
        assert_eq!(first.lines().count(), 2);
        b.skipped();
        let second = tracker.render_text(Instant::now(), false);
        assert!(second.starts_with("\x1b[2A\r\x1b[J"), "{second:?}");
        assert!(second.contains("layer b: already in the repository\n"));
        assert!(second.contains("layer a: [==========          ] 50%"));
    }
}
