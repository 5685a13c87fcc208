//! The analytics workbooks: the tornado (`lodestone sensitivity`) and the Monte Carlo results
//! (`lodestone montecarlo`), each with native Excel charts and a fixed document date, so the
//! same input and settings give the same bytes.
//!
//! Owns their layout, formats and charts. Must not compute: every number comes from
//! `analytics`; the only formulas are the tornado's changes from the base case (NPV minus
//! base NPV, and the swing), written with their values cached.

use rust_decimal::Decimal;
use rust_xlsxwriter::{
    Chart, ChartAxisCrossing, ChartAxisLabelPosition, ChartFormat, ChartLegendPosition,
    ChartSolidFill, ChartType, Color, DocProperties, ExcelDateTime, Format, FormatAlign,
    FormatBorder, Formula, Workbook, Worksheet, XlsxError,
};

use super::formula::a1;
use super::write::WriteError;
use crate::analytics::montecarlo::{self, METHOD, Report, Simulation, Summary, histogram};
use crate::analytics::sensitivity::{Driver, Tornado};
use crate::model::Deal;

/// The formats these workbooks use.
struct Styles {
    title: Format,
    header: Format,
    label: Format,
    note: Format,
    money: Format,
    ratio: Format,
    percent: Format,
    count: Format,
    year: Format,
    bold: Format,
}

impl Styles {
    fn new() -> Self {
        let base = Format::new().set_font_name("Calibri").set_font_size(10);
        let num = |f: &str| base.clone().set_num_format(f);
        Styles {
            title: base.clone().set_bold().set_font_size(14),
            header: base
                .clone()
                .set_bold()
                .set_border_bottom(FormatBorder::Thin)
                .set_background_color(Color::RGB(0xDDEBF7))
                .set_align(FormatAlign::Center)
                .set_text_wrap(),
            label: base.clone(),
            note: base
                .clone()
                .set_italic()
                .set_font_color(Color::RGB(0x595959)),
            money: num("#,##0;[Red]-#,##0"),
            ratio: num("0.0000"),
            percent: num("0.0%"),
            count: num("#,##0"),
            year: num("0"),
            bold: base.clone().set_bold(),
        }
    }
}

fn new_workbook(title: String) -> Result<Workbook, XlsxError> {
    let mut wb = Workbook::new();
    let created = ExcelDateTime::from_ymd(2000, 1, 1)?;
    wb.set_properties(
        &DocProperties::new()
            .set_creation_datetime(&created)
            .set_title(title)
            .set_author("Lodestone"),
    );
    Ok(wb)
}

/// A decimal written as a cell number: through its text (DESIGN.md §5).
fn number(d: Decimal) -> f64 {
    d.normalize().to_string().parse::<f64>().unwrap_or(0.0)
}

fn number_opt(d: Option<Decimal>) -> Option<f64> {
    d.map(number)
}

fn write_opt(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    value: Option<f64>,
    format: &Format,
) -> Result<(), XlsxError> {
    match value {
        Some(v) => ws.write_number_with_format(row, col, v, format)?,
        None => ws.write_string_with_format(row, col, "n/a", format)?,
    };
    Ok(())
}

fn solid(color: u32) -> ChartFormat {
    let mut f = ChartFormat::new();
    f.set_solid_fill(ChartSolidFill::new().set_color(Color::RGB(color)));
    f
}

fn line(color: u32) -> ChartFormat {
    let mut f = ChartFormat::new();
    f.set_line(rust_xlsxwriter::ChartLine::new().set_color(Color::RGB(color)));
    f
}

const DOWN_COLOR: u32 = 0xC0504D;
/// Rows a chart beside a table spans (20 pixels each).
const CHART_ROWS: u32 = 16;
const UP_COLOR: u32 = 0x4F81BD;

/// The unit to show amounts of this size in: millions for a deal's NPVs, thousands or units
/// for a small deal's, so that no axis reads 0m, 0m, 0m. (divisor, suffix, Excel format).
fn scale_for(largest: Decimal) -> (Decimal, &'static str, &'static str) {
    let largest = largest.abs();
    if largest >= Decimal::from(10_000_000) {
        (Decimal::from(1_000_000), "m", "#,##0,,\"m\"")
    } else if largest >= Decimal::from(10_000) {
        (Decimal::from(1_000), "k", "#,##0,\"k\"")
    } else {
        (Decimal::ONE, "", "#,##0")
    }
}

/// What each driver's shock means, for the notes under the tornado.
fn driver_note(driver: Driver) -> &'static str {
    match driver {
        Driver::Price => "every product's market price times (1 - s) and (1 + s)",
        Driver::Capex => "a capex overrun of -s and +s on every facility",
        Driver::Opex => "every operating cost times (1 - s) and (1 + s)",
        Driver::RampSpeed => "ramp-up output times (1 - s) and (1 + s), capped at nameplate",
        Driver::Delay => {
            "construction longer by ceil(s x its years), at least 1 year, per facility; no early finish, so the favourable side is the base case"
        }
        Driver::DiscountRates => {
            "every party's and the project's discount rate times (1 - s) and (1 + s) (a schedule: by s times its first rate)"
        }
    }
}

/// The tornado workbook: per metric a ranked table (NPV down, NPV up, the changes from
/// base as formulas, the swing) and a native tornado chart; then every case run.
pub fn tornado_bytes(deal: &Deal, t: &Tornado) -> Result<Vec<u8>, WriteError> {
    let mut wb = new_workbook(format!(
        "Lodestone tornado: {}",
        super::limits::title_name(&deal.name.value)
    ))?;
    let st = Styles::new();
    let currency = &deal.currency.value;
    let shock = t.shock.normalize();
    let ws = wb.add_worksheet();
    ws.set_name("Tornado")?;
    ws.write_string_with_format(
        0,
        0,
        format!(
            "{}: tornado, each driver shocked by s = {shock} from the base case",
            super::limits::title_name(&deal.name.value)
        ),
        &st.title,
    )?;
    ws.write_string_with_format(
        1,
        0,
        format!("NPV in {currency} at each party's own discount rate; the chart shows the change from the base case. Drivers ranked by swing (widest first)."),
        &st.note,
    )?;
    let mut row = 3u32;
    let mut charts: Vec<(u32, Chart)> = Vec::new();
    for (m, metric) in t.metrics.iter().enumerate() {
        let title_row = row;
        ws.write_string_with_format(row, 0, metric, &st.bold)?;
        ws.write_string_with_format(row, 2, "Base NPV", &st.label)?;
        ws.write_number_with_format(row, 3, number(t.base[m]), &st.money)?;
        let base_ref = format!("$D${}", row + 1);
        row += 1;
        for (col, h) in [
            "Driver",
            "Down case",
            "Up case",
            "NPV down",
            "NPV up",
            "Change down",
            "Change up",
            "Swing",
        ]
        .into_iter()
        .enumerate()
        {
            ws.write_string_with_format(row, col as u16, h, &st.header)?;
        }
        row += 1;
        let first = row;
        for bar in t.ranked(m) {
            let (lo, hi) = (bar.low.values[m], bar.high.values[m]);
            ws.write_string_with_format(row, 0, bar.driver.label(), &st.label)?;
            ws.write_string_with_format(row, 1, &bar.low.label, &st.label)?;
            ws.write_string_with_format(row, 2, &bar.high.label, &st.label)?;
            if bar.infeasible() {
                // An unfunded construction gap: no NPV to show, only which side it is.
                for (col, case) in [(3, &bar.low), (4, &bar.high)] {
                    match case.unfunded {
                        Some(_) => {
                            ws.write_string_with_format(row, col, "infeasible", &st.label)?
                        }
                        None => ws.write_number_with_format(
                            row,
                            col,
                            number(case.values[m]),
                            &st.money,
                        )?,
                    };
                }
                for col in 5..=7 {
                    ws.write_string_with_format(row, col, "n/a", &st.label)?;
                }
                row += 1;
                continue;
            }
            ws.write_number_with_format(row, 3, number(lo), &st.money)?;
            ws.write_number_with_format(row, 4, number(hi), &st.money)?;
            let (d, e) = (a1(row, 3, false, false), a1(row, 4, false, false));
            ws.write_formula_with_format(
                row,
                5,
                Formula::new(format!("={d}-{base_ref}"))
                    .set_result(text(lo.saturating_sub(t.base[m]))),
                &st.money,
            )?;
            ws.write_formula_with_format(
                row,
                6,
                Formula::new(format!("={e}-{base_ref}"))
                    .set_result(text(hi.saturating_sub(t.base[m]))),
                &st.money,
            )?;
            ws.write_formula_with_format(
                row,
                7,
                Formula::new(format!("=ABS({e}-{d})")).set_result(text(bar.swing(m))),
                &st.money,
            )?;
            row += 1;
        }
        let last = row - 1;
        let mut chart = Chart::new(ChartType::Bar);
        chart
            .title()
            .set_name(&format!("{metric}: change in NPV ({currency})"));
        chart
            .add_series()
            .set_name(&format!("Driver down (-{shock})"))
            .set_categories(("Tornado", first, 0, last, 0))
            .set_values(("Tornado", first, 5, last, 5))
            .set_format(&mut solid(DOWN_COLOR))
            .set_overlap(100)
            .set_gap(40);
        chart
            .add_series()
            .set_name(&format!("Driver up (+{shock})"))
            .set_categories(("Tornado", first, 0, last, 0))
            .set_values(("Tornado", first, 6, last, 6))
            .set_format(&mut solid(UP_COLOR));
        // Widest bar on top; driver names left of the plot whatever the signs.
        chart
            .y_axis()
            .set_reverse()
            .set_crossing(ChartAxisCrossing::Max)
            .set_label_position(ChartAxisLabelPosition::Low);
        let widest = t.bars.iter().map(|b| b.swing(m)).max().unwrap_or_default();
        chart.x_axis().set_num_format(scale_for(widest).2);
        chart.legend().set_position(ChartLegendPosition::Bottom);
        chart.set_width(620).set_height(CHART_ROWS * 20);
        charts.push((title_row, chart));
        // Each block is as tall as its chart, so the charts beside the tables do not overlap.
        row = title_row + CHART_ROWS.max(t.bars.len() as u32 + 3) + 1;
    }
    row += 1;
    ws.write_string_with_format(row, 0, "The shocks", &st.bold)?;
    row += 1;
    for d in Driver::ALL {
        ws.write_string_with_format(row, 0, d.label(), &st.label)?;
        ws.write_string_with_format(row, 1, driver_note(d), &st.note)?;
        row += 1;
    }
    for (r, chart) in &charts {
        ws.insert_chart(*r, 9, chart)?;
    }
    ws.set_column_width(0, 24)?;
    ws.set_column_width(1, 22)?;
    ws.set_column_width(2, 22)?;
    for c in 3..=7 {
        ws.set_column_width(c, 15)?;
    }
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);

    // Every case, every metric.
    let ws = wb.add_worksheet();
    ws.set_name("Cases")?;
    ws.write_string_with_format(
        0,
        0,
        "Every run of the tornado (NPV in the deal currency)",
        &st.title,
    )?;
    let headers: Vec<String> = ["Driver", "Side", "Case"]
        .into_iter()
        .map(String::from)
        .chain(t.metrics.iter().cloned())
        .collect();
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, h, &st.header)?;
    }
    ws.set_row_height(2, 40)?;
    let mut r = 3u32;
    ws.write_string_with_format(r, 0, "Base case", &st.label)?;
    for (k, v) in t.base.iter().enumerate() {
        ws.write_number_with_format(r, 3 + k as u16, number(*v), &st.money)?;
    }
    r += 1;
    for bar in &t.bars {
        for (side, case) in [("down", &bar.low), ("up", &bar.high)] {
            ws.write_string_with_format(r, 0, bar.driver.label(), &st.label)?;
            ws.write_string_with_format(r, 1, side, &st.label)?;
            ws.write_string_with_format(r, 2, &case.label, &st.label)?;
            for (k, v) in case.values.iter().enumerate() {
                match case.unfunded {
                    Some(gap) => ws.write_string_with_format(
                        r,
                        3 + k as u16,
                        format!("infeasible: unfunded gap {}", text(gap)),
                        &st.label,
                    )?,
                    None => ws.write_number_with_format(r, 3 + k as u16, number(*v), &st.money)?,
                };
            }
            r += 1;
        }
    }
    ws.set_column_width(0, 20)?;
    ws.set_column_width(1, 6)?;
    ws.set_column_width(2, 22)?;
    for k in 0..t.metrics.len() {
        ws.set_column_width(3 + k as u16, 17)?;
    }
    ws.set_freeze_panes(3, 3)?;
    Ok(wb.save_to_buffer()?)
}

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

/// The Monte Carlo workbook: the summary tables, a histogram of each party's NPV, and the
/// simulated price fan of each product.
pub fn montecarlo_bytes(
    deal: &Deal,
    sim: &Simulation,
    summary: &Summary,
    seed: u64,
    fan: &[Vec<(Decimal, Vec<Decimal>)>],
    fan_paths: u64,
) -> Result<Vec<u8>, WriteError> {
    let mut wb = new_workbook(format!(
        "Lodestone Monte Carlo: {}",
        super::limits::title_name(&deal.name.value)
    ))?;
    let st = Styles::new();
    let report = montecarlo::report(sim, summary);
    write_mc_summary(wb.add_worksheet(), deal, sim, summary, seed, &report, &st)?;
    write_histograms(wb.add_worksheet(), deal, summary, &report, &st)?;
    write_fan(wb.add_worksheet(), deal, sim, fan, fan_paths, &st)?;
    Ok(wb.save_to_buffer()?)
}

fn write_mc_summary(
    ws: &mut Worksheet,
    deal: &Deal,
    sim: &Simulation,
    summary: &Summary,
    seed: u64,
    report: &Report,
    st: &Styles,
) -> Result<(), WriteError> {
    ws.set_name("Monte Carlo")?;
    let currency = &deal.currency.value;
    ws.write_string_with_format(
        0,
        0,
        format!(
            "{}: Monte Carlo price paths",
            super::limits::title_name(&deal.name.value)
        ),
        &st.title,
    )?;
    let mut row = 2u32;
    let unfunded = format!(
        "{} of {} paths (infeasible: left out of every statistic below)",
        summary.unfunded, summary.paths
    );
    for (k, v) in [
        ("Scenario", sim.scenario.clone()),
        ("Paths", summary.paths.to_string()),
        ("Seed", seed.to_string()),
        ("Currency", currency.clone()),
        ("Unfunded construction gap", unfunded),
    ] {
        ws.write_string_with_format(row, 0, k, &st.bold)?;
        ws.write_string_with_format(row, 1, v, &st.label)?;
        row += 1;
    }
    ws.write_string_with_format(
        row,
        0,
        "Method",
        &st.bold.clone().set_align(FormatAlign::Top),
    )?;
    ws.merge_range(
        row,
        1,
        row,
        8,
        METHOD,
        &st.note.clone().set_text_wrap().set_align(FormatAlign::Top),
    )?;
    ws.set_row_height(row, 70)?;
    row += 2;

    // The processes.
    ws.write_string_with_format(
        row,
        0,
        "Price processes (the deal's Monte Carlo sheet)",
        &st.bold,
    )?;
    row += 1;
    let mut headers: Vec<String> = [
        "Product",
        "Volatility",
        "Reversion /yr",
        "Jumps /yr",
        "Jump mean fall",
        "Jump spread",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    headers.extend(sim.products.iter().map(|p| format!("ρ {p}")));
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(row, c as u16, h, &st.header)?;
    }
    row += 1;
    if let Some(mc) = &deal.monte_carlo {
        let matrix = mc.matrix();
        for (i, p) in mc.processes.iter().enumerate() {
            ws.write_string_with_format(row, 0, &p.product.value, &st.label)?;
            ws.write_number_with_format(row, 1, number(p.volatility.value), &st.percent)?;
            ws.write_number_with_format(row, 2, number(p.reversion.value), &st.ratio)?;
            ws.write_number_with_format(row, 3, number(p.jump_intensity.value), &st.ratio)?;
            ws.write_number_with_format(row, 4, number(p.jump_mean.value), &st.percent)?;
            ws.write_number_with_format(row, 5, number(p.jump_spread.value), &st.ratio)?;
            for (j, rho) in matrix[i].iter().enumerate() {
                ws.write_number_with_format(row, 6 + j as u16, number(*rho), &st.ratio)?;
            }
            row += 1;
        }
    }
    row += 1;

    // NPVs.
    ws.write_string_with_format(
        row,
        0,
        format!("NPV by party ({currency}, each at its own discount rate)"),
        &st.bold,
    )?;
    row += 1;
    for (c, h) in [
        "Party",
        "Kind",
        "Mean",
        "P5",
        "P10",
        "P50",
        "P90",
        "P95",
        "P(NPV < 0)",
        "Worst",
        "Best",
    ]
    .into_iter()
    .enumerate()
    {
        ws.write_string_with_format(row, c as u16, h, &st.header)?;
    }
    row += 1;
    for p in &report.parties {
        ws.write_string_with_format(row, 0, &p.name, &st.label)?;
        ws.write_string_with_format(row, 1, &p.group, &st.label)?;
        for (c, v) in [p.mean, p.p5, p.p10, p.p50, p.p90, p.p95]
            .into_iter()
            .enumerate()
        {
            write_opt(ws, row, 2 + c as u16, number_opt(v), &st.money)?;
        }
        write_opt(ws, row, 8, number_opt(p.probability_negative), &st.percent)?;
        write_opt(ws, row, 9, number_opt(p.min), &st.money)?;
        write_opt(ws, row, 10, number_opt(p.max), &st.money)?;
        row += 1;
    }
    row += 1;

    // Losses.
    if !report.tranches.is_empty() {
        ws.write_string_with_format(
            row,
            0,
            format!("Loss by tranche ({currency}, left unpaid at the horizon, before guarantees)"),
            &st.bold,
        )?;
        row += 1;
        for (c, h) in [
            "Tranche",
            "Kind",
            "P(loss)",
            "Expected loss",
            "P95 loss",
            "Worst loss",
        ]
        .into_iter()
        .enumerate()
        {
            ws.write_string_with_format(row, c as u16, h, &st.header)?;
        }
        row += 1;
        for t in &report.tranches {
            ws.write_string_with_format(row, 0, &t.name, &st.label)?;
            ws.write_string_with_format(row, 1, &t.kind, &st.label)?;
            write_opt(ws, row, 2, number_opt(t.probability_of_loss), &st.percent)?;
            write_opt(ws, row, 3, number_opt(t.expected_loss), &st.money)?;
            write_opt(ws, row, 4, number_opt(t.p95_loss), &st.money)?;
            write_opt(ws, row, 5, number_opt(t.max_loss), &st.money)?;
            row += 1;
        }
        row += 1;
    }

    // Governments.
    if !report.governments.is_empty() {
        ws.write_string_with_format(
            row,
            0,
            format!("Each government's contingent payments ({currency}, totals over the horizon)"),
            &st.bold,
        )?;
        row += 1;
        for (c, h) in [
            "Government",
            "P(floor payout)",
            "Expected floor payout",
            "P95 floor payout",
            "P(guarantee call)",
            "Expected guarantee calls",
            "P95 guarantee calls",
        ]
        .into_iter()
        .enumerate()
        {
            ws.write_string_with_format(row, c as u16, h, &st.header)?;
        }
        ws.set_row_height(row, 28)?;
        row += 1;
        for g in &report.governments {
            ws.write_string_with_format(row, 0, &g.name, &st.label)?;
            write_opt(
                ws,
                row,
                1,
                number_opt(g.probability_floor_payout),
                &st.percent,
            )?;
            write_opt(ws, row, 2, number_opt(g.expected_floor_payout), &st.money)?;
            write_opt(ws, row, 3, number_opt(g.p95_floor_payout), &st.money)?;
            write_opt(
                ws,
                row,
                4,
                number_opt(g.probability_guarantee_call),
                &st.percent,
            )?;
            write_opt(
                ws,
                row,
                5,
                number_opt(g.expected_guarantee_calls),
                &st.money,
            )?;
            write_opt(ws, row, 6, number_opt(g.p95_guarantee_calls), &st.money)?;
            row += 1;
        }
    }
    ws.set_column_width(0, 34)?;
    ws.set_column_width(1, 14)?;
    for c in 2..=10 {
        ws.set_column_width(c, 15)?;
    }
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    Ok(())
}

/// Bins per histogram.
const BINS: usize = 30;

fn write_histograms(
    ws: &mut Worksheet,
    deal: &Deal,
    summary: &Summary,
    report: &Report,
    st: &Styles,
) -> Result<(), WriteError> {
    ws.set_name("Histograms")?;
    let currency = &deal.currency.value;
    ws.write_string_with_format(
        0,
        0,
        format!("NPV histograms ({currency}): {BINS} equal bins from the 0.5th to the 99.5th percentile; paths outside are counted below and above"),
        &st.title,
    )?;
    let mut row = 2u32;
    let mut charts = Vec::new();
    for p in &report.parties {
        let Some(stat) = summary.stats.get(p.stat) else {
            continue;
        };
        let Some(h) = histogram(stat, BINS) else {
            continue;
        };
        ws.write_string_with_format(row, 0, &p.name, &st.bold)?;
        ws.write_string_with_format(
            row,
            2,
            format!("below: {}, above: {}", h.below, h.above),
            &st.note,
        )?;
        row += 1;
        let largest = h
            .bins
            .iter()
            .flat_map(|(a, b, _)| [a.abs(), b.abs()])
            .max()
            .unwrap_or_default();
        let (divisor, suffix, _) = scale_for(largest);
        let unit = if suffix.is_empty() {
            String::new()
        } else {
            format!(" ({suffix})")
        };
        for (c, head) in [
            format!("From{unit}"),
            format!("To{unit}"),
            format!("Middle{unit}"),
            "Paths".to_string(),
            "Share".to_string(),
        ]
        .into_iter()
        .enumerate()
        {
            ws.write_string_with_format(row, c as u16, head, &st.header)?;
        }
        row += 1;
        let first = row;
        let m1 = |d: Decimal| (d / divisor).round_dp(1);
        for (from, to, n) in &h.bins {
            ws.write_number_with_format(
                row,
                0,
                number(m1(*from)),
                &st.ratio.clone().set_num_format("#,##0.0"),
            )?;
            ws.write_number_with_format(
                row,
                1,
                number(m1(*to)),
                &st.ratio.clone().set_num_format("#,##0.0"),
            )?;
            ws.write_number_with_format(
                row,
                2,
                number(m1((*from + *to) / Decimal::TWO)),
                &st.ratio.clone().set_num_format("#,##0.0"),
            )?;
            ws.write_number_with_format(row, 3, *n as f64, &st.count)?;
            let share = if summary.paths > 0 {
                *n as f64 / summary.paths as f64
            } else {
                0.0
            };
            ws.write_number_with_format(row, 4, share, &st.percent)?;
            row += 1;
        }
        let last = row - 1;
        let mut chart = Chart::new(ChartType::Column);
        chart
            .title()
            .set_name(&format!("{}: NPV over {} paths", p.name, summary.paths));
        chart
            .add_series()
            .set_name("Paths")
            .set_categories(("Histograms", first, 2, last, 2))
            .set_values(("Histograms", first, 3, last, 3))
            .set_format(&mut solid(UP_COLOR))
            .set_gap(10);
        chart.x_axis().set_name(&format!(
            "NPV ({currency}{}), bin middle",
            if suffix.is_empty() {
                String::new()
            } else {
                format!(" {suffix}")
            }
        ));
        chart.y_axis().set_name("paths");
        chart.legend().set_hidden();
        chart.set_width(640).set_height(300);
        chart.x_axis().set_num_format("#,##0");
        charts.push((first - 2, chart));
        row += 2;
    }
    for (r, chart) in &charts {
        ws.insert_chart(*r, 6, chart)?;
    }
    ws.set_column_width(0, 12)?;
    ws.set_column_width(1, 12)?;
    ws.set_column_width(2, 12)?;
    ws.set_column_width(3, 9)?;
    ws.set_column_width(4, 9)?;
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    Ok(())
}

fn write_fan(
    ws: &mut Worksheet,
    deal: &Deal,
    sim: &Simulation,
    fan: &[Vec<(Decimal, Vec<Decimal>)>],
    fan_paths: u64,
    st: &Styles,
) -> Result<(), WriteError> {
    ws.set_name("Price paths")?;
    ws.write_string_with_format(
        0,
        0,
        format!("Simulated prices: the deck (with the scenario's changes) and the 5th, 50th and 95th percentiles of the first {fan_paths} paths, by year"),
        &st.title,
    )?;
    let first_year = deal.first_year();
    let mut col = 0u16;
    let mut charts = Vec::new();
    for (k, product) in sim.products.iter().enumerate() {
        let Some(rows) = fan.get(k) else { continue };
        let unit = deal
            .product(product)
            .map(|p| format!("{} {}", p.currency.value, p.unit.value.label()))
            .unwrap_or_default();
        ws.write_string_with_format(2, col, format!("{product} ({unit})"), &st.bold)?;
        for (c, h) in ["Year", "Deck", "P5", "P50", "P95"].into_iter().enumerate() {
            ws.write_string_with_format(3, col + c as u16, h, &st.header)?;
        }
        for (t, (deck, qs)) in rows.iter().enumerate() {
            let r = 4 + t as u32;
            ws.write_number_with_format(r, col, (first_year + t as i32) as f64, &st.year)?;
            let price = st.ratio.clone().set_num_format("#,##0.00");
            ws.write_number_with_format(r, col + 1, number(*deck), &price)?;
            for (j, q) in qs.iter().enumerate() {
                ws.write_number_with_format(r, col + 2 + j as u16, number(*q), &price)?;
            }
        }
        let last = 3 + rows.len() as u32;
        let mut chart = Chart::new(ChartType::Line);
        chart
            .title()
            .set_name(&format!("{product}: simulated price ({unit})"));
        for (j, (name, color)) in [
            ("Deck", 0x000000u32),
            ("P5", DOWN_COLOR),
            ("P50", 0x7F7F7F),
            ("P95", UP_COLOR),
        ]
        .into_iter()
        .enumerate()
        {
            chart
                .add_series()
                .set_name(name)
                .set_categories(("Price paths", 4, col, last, col))
                .set_values((
                    "Price paths",
                    4,
                    col + 1 + j as u16,
                    last,
                    col + 1 + j as u16,
                ))
                .set_format(&mut line(color));
        }
        chart.legend().set_position(ChartLegendPosition::Bottom);
        chart.set_width(640).set_height(CHART_ROWS * 20);
        charts.push((col, chart));
        for c in 0..5 {
            ws.set_column_width(col + c, if c == 0 { 7 } else { 11 })?;
        }
        col += 6;
    }
    for (k, (_, chart)) in charts.iter().enumerate() {
        ws.insert_chart(3 + (CHART_ROWS + 2) * k as u32, col + 1, chart)?;
    }
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    Ok(())
}
