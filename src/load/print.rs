//! The human summary of a [`LoadReport`], written for people reading a terminal.

use std::fmt::Write as _;

use super::report::{ErrorKind, HoldReport, Latency, LoadReport, SlowReport};

/// The summary, several lines ending in a newline.
pub fn summary(report: &LoadReport) -> String {
    if let Some(hold) = &report.hold {
        return hold_summary(report, hold);
    }
    let mut out = String::new();
    let mode = match report.target_rate {
        Some(rate) => format!("open loop at {} requests/s", number(rate)),
        None => "closed loop".into(),
    };
    let connections = if report.proto.is_datagram() {
        ""
    } else if report.connect_per_request {
        ", a new connection per request"
    } else {
        ", keep-alive"
    };
    let runs = if report.runs > 1 {
        format!(" ({} runs merged)", report.runs)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{} to {}: {} clients on {} threads, {mode}{connections}{runs}",
        report.proto, report.target, report.clients, report.threads
    );
    let _ = writeln!(
        out,
        "  requests   {} in {:.2} s: {} ok, {} errors",
        report.requests,
        report.duration().as_secs_f64(),
        report.successes,
        report.errors.total()
    );
    let _ = writeln!(
        out,
        "  throughput {} requests/s, {}/s",
        number(report.requests_per_sec()),
        bytes(report.bytes_per_sec())
    );
    if let Some(rate) = report.target_rate {
        let verdict = if report.rate_reached() == Some(true) {
            "reached".to_string()
        } else {
            format!(
                "NOT REACHED: {} sends missed (the clients were waiting for replies)",
                report.missed_sends
            )
        };
        let _ = writeln!(
            out,
            "  rate       asked {} requests/s, sent {} requests/s: {verdict}",
            number(rate),
            number(report.send_rate())
        );
    }
    let _ = writeln!(
        out,
        "  latency    {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "min", "mean", "stdev", "p50", "p90", "p99", "p99.9", "max"
    );
    if report.target_rate.is_some() {
        latency_line(&mut out, "corrected", &report.latency);
        latency_line(&mut out, "service", &report.service_time);
        let _ = writeln!(
            out,
            "             (corrected: from the scheduled send time; service: from the actual send)"
        );
    } else {
        latency_line(&mut out, "", &report.latency);
    }
    histogram_lines(&mut out, &report.latency);
    status_and_error_lines(&mut out, report);
    if report.late_replies > 0 {
        let _ = writeln!(
            out,
            "  late       {} replies came after their request had timed out",
            report.late_replies
        );
    }
    if let Some((fewest, most)) = report.fairness() {
        let _ = writeln!(
            out,
            "  fairness   fewest {fewest}, most {most} requests completed by one client"
        );
    }
    if !report.unfinished.is_empty() {
        let oldest = report
            .unfinished
            .iter()
            .map(|u| u.age_us)
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "  unfinished {} requests still waiting at the end, the oldest for {}",
            report.unfinished.len(),
            micros(oldest)
        );
    }
    if let Some(slow) = &report.slow {
        slow_lines(&mut out, slow);
    }
    if let Some((last, median)) = report.timeline.stall_at_end() {
        let _ = writeln!(
            out,
            "  stall      the last second served {} req/s, under half the run's median second ({} req/s)",
            number(last),
            number(median)
        );
    }
    let per_1000 = report
        .cpu_per_1000()
        .map(|c| format!(", {c:.4} CPU-s per 1,000 requests"))
        .unwrap_or_default();
    generator_lines(&mut out, report, &per_1000);
    out
}

/// The summary of `load --hold`: how many connections were opened, answered and still held at the end, the time
/// to open them all, and why the others failed.
fn hold_summary(report: &LoadReport, hold: &HoldReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} to {}: hold {} connections (one exchange on each, then held open)",
        report.proto, report.target, hold.asked
    );
    let mut opened = format!("  opened     {} of {} connections", hold.opened, hold.asked);
    if hold.connect_failures > 0 {
        let _ = write!(opened, "; {} connects failed", hold.connect_failures);
    }
    if hold.not_tried > 0 {
        let why = if report.stopped_early {
            "stopped first"
        } else {
            "connects kept failing: the server had stopped accepting"
        };
        let _ = write!(opened, "; {} not tried ({why})", hold.not_tried);
    }
    let _ = writeln!(out, "{opened}");
    let exchanges_failed = report.errors.total().saturating_sub(hold.connect_failures);
    let _ = writeln!(
        out,
        "  answered   {} of {}; {exchanges_failed} exchanges failed",
        hold.answered, hold.opened
    );
    let _ = writeln!(
        out,
        "  open time  {} to open them all (until the last exchange finished or failed)",
        micros(hold.open_us)
    );
    let closed = match (hold.closed_after_min_us, hold.closed_after_max_us) {
        (Some(min), Some(max)) => format!(
            "{} closed by the server {} to {} after their answer",
            hold.closed_by_server,
            micros(min),
            micros(max)
        ),
        _ => "none closed by the server".into(),
    };
    // The hold ends when nothing is left to hold.
    let early = if hold.held == 0 && hold.closed_by_server > 0 && !report.stopped_early {
        " (the hold ended with the last one)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "  held       {} still open after {} of hold; {closed}{early}",
        hold.held,
        micros(hold.hold_us)
    );
    if !report.unfinished.is_empty() {
        let _ = writeln!(
            out,
            "  unfinished {} connects or exchanges still under way when stopped",
            report.unfinished.len()
        );
    }
    status_and_error_lines(&mut out, report);
    let _ = writeln!(
        out,
        "  latency    {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "min", "mean", "stdev", "p50", "p90", "p99", "p99.9", "max"
    );
    latency_line(&mut out, "exchange", &report.latency);
    let _ = writeln!(
        out,
        "             (exchange: from the start of the connect to the whole reply)"
    );
    generator_lines(&mut out, report, "");
    out
}

/// HTTP replies by status, and failures by kind with the first message of each.
fn status_and_error_lines(out: &mut String, report: &LoadReport) {
    if !report.statuses.is_empty() {
        let codes: Vec<String> = report
            .statuses
            .iter()
            .map(|(code, n)| format!("{code} x{n}"))
            .collect();
        let _ = writeln!(out, "  statuses   {}", codes.join(", "));
    }
    if report.errors.total() > 0 {
        let _ = writeln!(out, "  errors");
        for kind in ErrorKind::ALL {
            let n = report.errors.get(kind);
            if n > 0 {
                let example = report
                    .error_examples
                    .get(&kind)
                    .map(|e| format!(" (first: {e})"))
                    .unwrap_or_default();
                let _ = writeln!(out, "    {:<28} {n}{example}", kind.describe());
            }
        }
    }
}

/// The generator's own CPU time, and whether the run was stopped.
fn generator_lines(out: &mut String, report: &LoadReport, per_1000: &str) {
    let _ = writeln!(
        out,
        "  generator  {:.2} CPU-s (user {:.2}, system {:.2}){per_1000}",
        report.cpu.total().as_secs_f64(),
        report.cpu.user_us as f64 / 1e6,
        report.cpu.system_us as f64 / 1e6
    );
    if report.stopped_early {
        let _ = writeln!(out, "  stopped early (interrupted)");
    }
}

/// What became of the slow connections: opened, closed by the server (when, with what answer), still open.
fn slow_lines(out: &mut String, slow: &SlowReport) {
    let failed = if slow.failed_connects > 0 {
        format!(", {} connection attempts failed", slow.failed_connects)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "  slow       {} slowloris connections (an HTTP head never finished): {} opened{failed}",
        slow.connections, slow.opened
    );
    if let (Some(min), Some(max)) = (slow.closed_after_min_us, slow.closed_after_max_us) {
        let answered = if slow.answered.is_empty() {
            "without an answer".to_string()
        } else {
            let statuses: Vec<String> = slow
                .answered
                .iter()
                .map(|(status, n)| format!("{status} x{n}"))
                .collect();
            format!(
                "{} answered first ({})",
                slow.answered_total(),
                statuses.join(", ")
            )
        };
        let _ = writeln!(
            out,
            "             {} closed by the server after {} to {}, {answered}",
            slow.closed_by_server,
            micros(min),
            micros(max)
        );
    } else {
        let _ = writeln!(out, "             none closed by the server");
    }
    if slow.open_at_end > 0 {
        let _ = writeln!(
            out,
            "             {} still open at the end, the oldest held {}",
            slow.open_at_end,
            micros(slow.oldest_open_us)
        );
    }
}

fn latency_line(out: &mut String, label: &str, latency: &Latency) {
    let s = latency.summary();
    if s.count == 0 {
        let _ = writeln!(out, "  {label:<10} (no successful request)");
        return;
    }
    let _ = writeln!(
        out,
        "  {label:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        micros(s.min),
        micros(s.mean as u64),
        micros(s.stdev as u64),
        micros(s.p50),
        micros(s.p90),
        micros(s.p99),
        micros(s.p999),
        micros(s.max)
    );
}

/// Most rows of the latency histogram, and the longest bar.
const HISTOGRAM_ROWS: u32 = 8;
const BAR_WIDTH: u64 = 40;

/// A small histogram of the latency, as hey draws one: rows from the fastest reply to the slowest, each as wide
/// as the last (logarithmic: with a long tail, equal widths put nearly everything in the first row).
fn histogram_lines(out: &mut String, latency: &Latency) {
    let h = &latency.0;
    if h.is_empty() {
        return;
    }
    let (min, max) = (h.min().max(1), h.max().max(1));
    // Upper bounds, growing by a constant factor; bounds that read the same are one row.
    let mut bounds: Vec<(u64, String)> = Vec::new();
    for row in 1..=HISTOGRAM_ROWS {
        let bound = if row == HISTOGRAM_ROWS {
            max
        } else {
            let ratio = max as f64 / min as f64;
            (min as f64 * ratio.powf(f64::from(row) / f64::from(HISTOGRAM_ROWS))).round() as u64
        };
        let label = micros(bound);
        match bounds.last_mut() {
            Some(last) if last.1 == label || last.0 >= bound => *last = (bound.max(last.0), label),
            _ => bounds.push((bound, label)),
        }
    }
    let mut counts = vec![0u64; bounds.len()];
    for v in h.iter_recorded() {
        // The histogram's bucket reads as the highest value equivalent to it, which may pass `max` a little.
        let value = v.value_iterated_to().min(max);
        let row = bounds.partition_point(|(bound, _)| *bound < value);
        counts[row.min(bounds.len() - 1)] += v.count_at_value();
    }
    let most = counts.iter().copied().max().unwrap_or(1).max(1);
    let _ = writeln!(out, "  histogram  (replies up to each latency)");
    for ((_, label), n) in bounds.iter().zip(&counts) {
        let bar = "#".repeat((n * BAR_WIDTH).div_ceil(most) as usize);
        let _ = writeln!(out, "  {label:>18} {n:>9} {bar}");
    }
}

/// A duration in microseconds, in the unit that reads best.
pub fn micros(us: u64) -> String {
    if us < 1_000 {
        format!("{us}us")
    } else if us < 1_000_000 {
        format!("{:.2}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

fn number(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn bytes(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1} MB", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} kB", x / 1e3)
    } else {
        format!("{x:.0} B")
    }
}
