//! chart.png: for each charted figure, every engine's median relative to a reference engine (LMDB
//! when it ran), as horizontal bars on a log scale where right is better. Drawn with plotters'
//! primitives in pixel coordinates; text uses the DejaVu font shipped in the `dejavu` crate, so
//! no system font library is needed.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use crate::engine::Res;
use crate::metrics::{Better, METRICS};
use crate::report::{Results, display_name, format_value};

const WIDTH: i32 = 1400;
const LABEL_RIGHT: i32 = 420;
const PLOT_LEFT: i32 = 440;
const PLOT_RIGHT: i32 = WIDTH - 60;
const TOP: i32 = 110;
const BAR: i32 = 15;
const ROW_GAP: i32 = 16;
const BOTTOM: i32 = 60;
const FONT: &str = "sans-serif";

fn engine_color(engine: &str) -> RGBColor {
    match engine {
        "bough" => RGBColor(230, 120, 20),
        "bough-wal" => RGBColor(240, 180, 90),
        "lmdb" => RGBColor(60, 110, 190),
        "redb" => RGBColor(200, 50, 60),
        "sqlite" => RGBColor(60, 160, 90),
        _ => RGBColor(120, 120, 120),
    }
}

pub fn draw(results: &Results, path: &Path) -> Res<()> {
    // Registering twice is harmless; it only fails on a broken font file.
    register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| "DejaVu Sans unreadable")?;
    register_font(FONT, FontStyle::Bold, dejavu::sans::bold())
        .map_err(|_| "DejaVu Sans Bold unreadable")?;

    let reference = if results.engines.iter().any(|e| e == "lmdb") {
        "lmdb".to_string()
    } else {
        results.engines.first().cloned().ok_or("no engine ran")?
    };
    let bars: Vec<&str> = results
        .engines
        .iter()
        .map(String::as_str)
        .filter(|e| *e != reference)
        .collect();

    // (metric, reference median, [(engine, relative performance)])
    let mut rows = Vec::new();
    for metric in METRICS.iter().filter(|m| m.chart) {
        let Some(base) = results.median(&reference, metric.id) else {
            continue;
        };
        let relative: Vec<(&str, f64)> = bars
            .iter()
            .filter_map(|&e| {
                let v = results.median(e, metric.id)?;
                let r = match metric.better {
                    Better::Higher => v / base,
                    Better::Lower => base / v,
                };
                (r.is_finite() && r > 0.0).then_some((e, r))
            })
            .collect();
        rows.push((metric, base, relative));
    }

    // A log axis spanning the data, on 1-2-5 ticks, at least 0.5x..2x.
    let (mut lo, mut hi) = (0.5f64, 2.0f64);
    for (_, _, relative) in &rows {
        for &(_, r) in relative {
            lo = lo.min(r);
            hi = hi.max(r);
        }
    }
    let ticks: Vec<f64> = (-4..=4)
        .flat_map(|p| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(p)))
        .collect();
    let lo = ticks.iter().rev().copied().find(|&t| t <= lo).unwrap_or(lo);
    let hi = ticks.iter().copied().find(|&t| t >= hi).unwrap_or(hi);
    let x_of = |r: f64| -> i32 {
        let f = (r.clamp(lo, hi).ln() - lo.ln()) / (hi.ln() - lo.ln());
        PLOT_LEFT + (f * f64::from(PLOT_RIGHT - PLOT_LEFT)).round() as i32
    };

    let row_height = BAR * bars.len().max(1) as i32 + ROW_GAP;
    let height = TOP + row_height * rows.len() as i32 + BOTTOM;
    let root = BitMapBackend::new(path, (WIDTH as u32, height as u32)).into_drawing_area();
    root.fill(&WHITE)?;

    let text = |size: f64, color: RGBColor, h: HPos, v: VPos| TextStyle {
        font: (FONT, size).into_font(),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    };
    let grey = RGBColor(110, 110, 110);

    // Title, subtitle, legend.
    let title = format!(
        "Bough vs {}: each engine relative to {} (log scale, right is better)",
        results
            .engines
            .iter()
            .filter(|e| *e != "bough")
            .map(|e| display_name(e))
            .collect::<Vec<_>>()
            .join(", "),
        display_name(&reference),
    );
    root.draw(&Text::new(
        title,
        (20, 14),
        TextStyle::from((FONT, 22).into_font().style(FontStyle::Bold)).color(&BLACK),
    ))?;
    let subtitle = format!(
        "{} entries (24 B keys, 150 B values), median of {} run{}, {}; {}",
        crate::report::format_value(results.count as f64),
        results.runs,
        if results.runs == 1 { "" } else { "s" },
        results.date,
        results.machine,
    );
    root.draw(&Text::new(
        subtitle,
        (20, 46),
        text(15.0, grey, HPos::Left, VPos::Top),
    ))?;
    let mut legend_x = PLOT_LEFT;
    for &engine in &bars {
        root.draw(&Rectangle::new(
            [(legend_x, 78), (legend_x + 16, 94)],
            engine_color(engine).filled(),
        ))?;
        root.draw(&Text::new(
            display_name(engine).to_string(),
            (legend_x + 22, 86),
            text(15.0, BLACK, HPos::Left, VPos::Center),
        ))?;
        legend_x += 130;
    }
    root.draw(&Text::new(
        format!("| {} = 1x", display_name(&reference)),
        (legend_x, 86),
        text(15.0, BLACK, HPos::Left, VPos::Center),
    ))?;

    // Grid.
    let plot_bottom = TOP + row_height * rows.len() as i32;
    for &t in ticks.iter().filter(|&&t| t >= lo && t <= hi) {
        let x = x_of(t);
        let (color, width) = if t == 1.0 {
            (BLACK, 2)
        } else {
            (RGBColor(215, 215, 215), 1)
        };
        root.draw(&PathElement::new(
            vec![(x, TOP - 6), (x, plot_bottom)],
            color.stroke_width(width),
        ))?;
        let label = if t >= 1.0 {
            format!("{t}x")
        } else {
            format!("{t:.2}x").trim_end_matches('0').to_string()
        };
        root.draw(&Text::new(
            label,
            (x, plot_bottom + 8),
            text(14.0, BLACK, HPos::Center, VPos::Top),
        ))?;
    }
    root.draw(&Text::new(
        format!(
            "performance relative to {} (times faster, smaller or leaner)",
            display_name(&reference)
        ),
        ((PLOT_LEFT + PLOT_RIGHT) / 2, plot_bottom + 32),
        text(14.0, grey, HPos::Center, VPos::Top),
    ))?;

    // One band per figure.
    for (i, (metric, base, relative)) in rows.iter().enumerate() {
        let top = TOP + row_height * i as i32;
        if i % 2 == 0 {
            root.draw(&Rectangle::new(
                [(10, top), (WIDTH - 10, top + row_height)],
                RGBColor(246, 246, 246).filled(),
            ))?;
        }
        let mid = top + row_height / 2;
        root.draw(&Text::new(
            metric.label.to_string(),
            (LABEL_RIGHT, mid - 9),
            text(15.0, BLACK, HPos::Right, VPos::Center),
        ))?;
        root.draw(&Text::new(
            format!(
                "{}: {} {}",
                display_name(&reference),
                format_value(*base),
                metric.unit
            ),
            (LABEL_RIGHT, mid + 10),
            text(13.0, grey, HPos::Right, VPos::Center),
        ))?;
        for (j, &engine) in bars.iter().enumerate() {
            let Some(&(_, r)) = relative.iter().find(|(e, _)| *e == engine) else {
                continue;
            };
            let y0 = top + ROW_GAP / 2 + BAR * j as i32;
            let (x0, x1) = (x_of(1.0), x_of(r));
            let (left, right) = (x0.min(x1), x0.max(x1).max(x0.min(x1) + 1));
            root.draw(&Rectangle::new(
                [(left, y0 + 1), (right, y0 + BAR - 1)],
                engine_color(engine).filled(),
            ))?;
            let label_x = if r >= 1.0 { x1 + 5 } else { x0 + 5 };
            let label = if r >= 9.95 {
                format!("{r:.0}x")
            } else {
                format!("{r:.2}x")
            };
            root.draw(&Text::new(
                label,
                (label_x, y0 + BAR / 2),
                text(12.0, BLACK, HPos::Left, VPos::Center),
            ))?;
        }
    }
    root.present()?;
    Ok(())
}
