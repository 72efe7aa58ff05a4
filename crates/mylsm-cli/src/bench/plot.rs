//! SVG charts of benchmark results: throughput over time (where write stalls show as
//! dips) and per-engine bars for each workload.

use std::path::Path;

use plotters::prelude::*;

/// Colours of the series, in order; chosen to stay apart for common colour blindness.
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
];

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Errors of plotters carry their backend's error type; the caller only reports them.
fn err(e: impl std::fmt::Display) -> String {
    format!("drawing the plot: {e}")
}

/// One line of a timeline chart: a workload's operations per second in each interval.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub ops_per_sec: Vec<f64>,
}

/// Draws `series` as lines over time, `interval_s` seconds per point, into an SVG file.
pub fn timeline(
    path: &Path,
    title: &str,
    series: &[Series],
    interval_s: f64,
) -> Result<(), String> {
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let points = series.iter().map(|s| s.ops_per_sec.len()).max().unwrap_or(0).max(1);
    let x_max = points as f64 * interval_s;
    let y_max = series.iter().flat_map(|s| s.ops_per_sec.iter().copied()).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("seconds since the workload started")
        .y_desc("operations per second")
        .y_label_formatter(&|v| human(*v))
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let c = colour(i);
        // Each point sits at the middle of its interval.
        let line =
            s.ops_per_sec.iter().enumerate().map(|(n, &v)| ((n as f64 + 0.5) * interval_s, v));
        chart
            .draw_series(LineSeries::new(line, c.stroke_width(2)))
            .map_err(err)?
            .label(s.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// Draws one panel per workload with a bar per engine (`values[w][e]`, operations per
/// second; `None` where an engine did not run it) into an SVG file. Each panel has its
/// own scale, since a scan runs orders of magnitude faster than a synced fill.
pub fn bars(
    path: &Path,
    title: &str,
    workloads: &[String],
    engines: &[String],
    values: &[Vec<Option<f64>>],
) -> Result<(), String> {
    let cols = 3.min(workloads.len().max(1));
    let rows = workloads.len().div_ceil(cols).max(1);
    let root =
        SVGBackend::new(path, (360 * cols as u32, 60 + 280 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(title, ("sans-serif", 24)).map_err(err)?;
    let panels = root.split_evenly((rows, cols));
    for ((w, panel), row) in workloads.iter().zip(&panels).zip(values) {
        let y_max = row.iter().flatten().copied().fold(1.0, f64::max) * 1.2;
        let mut chart = ChartBuilder::on(panel)
            .caption(w, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(24)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..engines.len().max(1) as f64, 0f64..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_x_axis()
            .y_desc("ops/s")
            .y_label_formatter(&|v| human(*v))
            .draw()
            .map_err(err)?;
        for (e, value) in row.iter().enumerate() {
            let x = e as f64;
            let label_at = (x + 0.15, 0.0);
            chart
                .draw_series(std::iter::once(Text::new(
                    engines[e].clone(),
                    label_at,
                    ("sans-serif", 12).into_font().color(&BLACK).pos(text_below()),
                )))
                .map_err(err)?;
            let Some(v) = *value else { continue };
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x + 0.1, 0.0), (x + 0.9, v)],
                    colour(e).filled(),
                )))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    human(v),
                    (x + 0.15, v),
                    ("sans-serif", 12).into_font().color(&BLACK).pos(text_above()),
                )))
                .map_err(err)?;
        }
    }
    root.present().map_err(err)
}

fn text_below() -> plotters::style::text_anchor::Pos {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    Pos::new(HPos::Left, VPos::Top)
}

fn text_above() -> plotters::style::text_anchor::Pos {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    Pos::new(HPos::Left, VPos::Bottom)
}

/// `v` with a k/M suffix, for axis labels.
fn human(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_writes_an_svg_with_every_series() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.svg");
        let series = [
            Series { name: "fillrandom".into(), ops_per_sec: vec![100.0, 0.0, 250.0] },
            Series { name: "overwrite".into(), ops_per_sec: vec![90.0] },
        ];
        timeline(&path, "mylsm bench", &series, 0.1).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("fillrandom") && svg.contains("overwrite"));
    }

    #[test]
    fn bars_write_an_svg_with_every_engine_and_workload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.svg");
        let workloads = ["fillseq".to_string(), "readrandom".to_string()];
        let engines = ["mylsm".to_string(), "rocksdb".to_string()];
        let values = [vec![Some(1000.0), Some(2000.0)], vec![Some(5e5), None]];
        bars(&path, "compare", &workloads, &engines, &values).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for name in ["fillseq", "readrandom", "mylsm", "rocksdb", "500k"] {
            assert!(svg.contains(name), "{name} missing");
        }
    }
}
