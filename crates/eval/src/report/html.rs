//! The HTML page of a [`Report`]: one self-contained file with inline CSS
//! and inline SVG charts (bars with confidence whiskers per metric, a
//! histogram of sentence chrF2), the score table and the worst lines. Every
//! piece of input text goes through [`esc`].

use std::fmt::Write as _;

use super::{format_p, metric_heading, MetricResult, Report, SIGNIFICANCE};

/// Colors of systems 1, 2, ... (Okabe-Ito, distinguishable with color
/// blindness); more systems cycle.
const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#7F7F7F",
];

impl Report {
    /// One self-contained HTML page (see the module docs).
    pub fn html(&self) -> String {
        let mut out = String::with_capacity(64 * 1024);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
            esc(&self.title)
        );
        let _ = writeln!(
            out,
            "<header><h1>{}</h1><p class=\"summary\">{}</p>{}</header>",
            esc(&self.title),
            esc(&self.summary()),
            self.legend_html()
        );

        out.push_str("<section><h2>Scores</h2>\n");
        out.push_str(&self.score_table_html());
        out.push_str("</section>\n");

        out.push_str(
            "<section><h2>Metrics with 95% confidence intervals</h2>\n\
             <p class=\"note\">Bars: corpus score. Whiskers: bootstrap mean ± 95% CI.</p>\n\
             <div class=\"charts\">\n",
        );
        for metric in &self.metrics {
            let _ = writeln!(
                out,
                "<figure class=\"card\"><figcaption>{}{}</figcaption>{}</figure>",
                esc(&metric.name),
                if metric.lower_is_better {
                    " <span class=\"hint\">lower is better</span>"
                } else {
                    ""
                },
                self.bar_chart_svg(metric)
            );
        }
        out.push_str("</div>\n</section>\n");

        let _ = write!(
            out,
            "<section><h2>Sentence-level chrF2</h2>\n\
             <p class=\"note\">How many of the {} lines fall in each chrF2 band, per \
             system.</p>\n<figure class=\"card wide\">{}</figure>\n</section>\n",
            self.lines,
            self.histogram_svg()
        );

        out.push_str(&self.confidence_html());
        out.push_str(&self.worst_table_html());

        out.push_str("<details class=\"signatures\"><summary>Signatures</summary><ul>\n");
        for metric in &self.metrics {
            let _ = writeln!(
                out,
                "<li><b>{}</b> <code>{}</code></li>",
                esc(&metric.name),
                esc(&metric.signature)
            );
        }
        out.push_str("</ul></details>\n</main>\n</body>\n</html>\n");
        out
    }

    fn legend_html(&self) -> String {
        let mut out = String::from("<ul class=\"legend\">");
        for (s, name) in self.systems.iter().enumerate() {
            let _ = write!(
                out,
                "<li><span class=\"swatch\" style=\"background:{}\"></span>{}{}</li>",
                color(s),
                esc(name),
                if s == 0 { " <i>(baseline)</i>" } else { "" }
            );
        }
        out.push_str("</ul>\n");
        out
    }

    fn score_table_html(&self) -> String {
        let mut out = String::from("<table class=\"scores\">\n<thead><tr><th>System</th>");
        for metric in &self.metrics {
            let _ = write!(out, "<th>{}</th>", esc(&metric_heading(metric)));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for (s, system) in self.systems.iter().enumerate() {
            let _ = write!(
                out,
                "<tr><th scope=\"row\"><span class=\"swatch\" style=\"background:{}\"></span>{}{}</th>",
                color(s),
                esc(system),
                if s == 0 { " <i>(baseline)</i>" } else { "" }
            );
            for metric in &self.metrics {
                let e = &metric.estimates[s];
                let _ = write!(
                    out,
                    "<td><b>{:.2}</b> <span class=\"ci\">({:.2} ± {:.2})</span>",
                    e.score, e.mean, e.ci
                );
                if let Some(p) = e.p_value {
                    let class = if p < SIGNIFICANCE { "sig" } else { "nosig" };
                    let _ = write!(
                        out,
                        "<br><span class=\"{class}\">{}</span>",
                        esc(&format_p(p))
                    );
                }
                out.push_str("</td>");
            }
            out.push_str("</tr>\n");
        }
        let _ = write!(
            out,
            "</tbody>\n</table>\n<p class=\"note\">Corpus score (bootstrap mean ± half-width \
             of the 95% CI). p: paired bootstrap against {}; * marks p &lt; {SIGNIFICANCE}: \
             the difference is unlikely to be chance. ROUGE-L is the mean line F1 × 100.</p>\n",
            esc(&self.systems[0])
        );
        out
    }

    /// Horizontal bars (corpus score) with whiskers (bootstrap mean ± CI).
    fn bar_chart_svg(&self, metric: &MetricResult) -> String {
        // Drawn at about the width a card gets in the three-column grid, so
        // text stays at its nominal size.
        const WIDTH: f64 = 330.0;
        const LEFT: f64 = 96.0;
        const RIGHT: f64 = 76.0;
        const TOP: f64 = 8.0;
        const ROW: f64 = 30.0;
        const AXIS: f64 = 26.0;
        let rows = self.systems.len() as f64;
        let height = TOP + ROW * rows + AXIS;
        let top_value = metric
            .estimates
            .iter()
            .map(|e| e.score.max(e.mean + e.ci))
            .fold(0.0, f64::max);
        // Bars start at 0; the axis ends at 100 unless a score passes it
        // (TER can).
        let axis_max = if top_value <= 100.0 {
            100.0
        } else {
            (top_value / 25.0).ceil() * 25.0
        };
        let plot = WIDTH - LEFT - RIGHT;
        let x = |v: f64| LEFT + plot * (v.clamp(0.0, axis_max) / axis_max);

        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" \
             width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"{} per system\">",
            esc(&metric.name)
        );
        for k in 0..=4 {
            let v = axis_max * f64::from(k) / 4.0;
            let gx = x(v);
            let _ = write!(
                svg,
                "<line class=\"grid\" x1=\"{gx:.1}\" y1=\"{TOP}\" x2=\"{gx:.1}\" y2=\"{:.1}\"/>\
                 <text class=\"tick\" x=\"{gx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{v}</text>",
                TOP + ROW * rows,
                TOP + ROW * rows + 16.0
            );
        }
        for (s, (name, e)) in self.systems.iter().zip(&metric.estimates).enumerate() {
            let y = TOP + ROW * s as f64;
            let mid = y + ROW / 2.0;
            let _ = write!(
                svg,
                "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
                 <rect x=\"{LEFT}\" y=\"{:.1}\" width=\"{:.1}\" height=\"16\" rx=\"2\" fill=\"{}\">\
                 <title>{}: {:.2} ({:.2} ± {:.2})</title></rect>",
                LEFT - 8.0,
                mid + 4.0,
                esc(&truncate(name, 13)),
                mid - 8.0,
                (x(e.score) - LEFT).max(0.5),
                color(s),
                esc(name),
                e.score,
                e.mean,
                e.ci
            );
            let (lo, hi) = (x(e.mean - e.ci), x(e.mean + e.ci));
            let _ = write!(
                svg,
                "<g class=\"whisker\"><line x1=\"{lo:.1}\" y1=\"{mid:.1}\" x2=\"{hi:.1}\" y2=\"{mid:.1}\"/>\
                 <line x1=\"{lo:.1}\" y1=\"{:.1}\" x2=\"{lo:.1}\" y2=\"{:.1}\"/>\
                 <line x1=\"{hi:.1}\" y1=\"{:.1}\" x2=\"{hi:.1}\" y2=\"{:.1}\"/>\
                 <circle cx=\"{:.1}\" cy=\"{mid:.1}\" r=\"2.5\"/></g>",
                mid - 6.0,
                mid + 6.0,
                mid - 6.0,
                mid + 6.0,
                x(e.mean)
            );
            let _ = write!(
                svg,
                "<text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{:.1} ± {:.1}</text>",
                x(e.score).max(hi) + 6.0,
                mid + 4.0,
                e.score,
                e.ci
            );
        }
        svg.push_str("</svg>");
        svg
    }

    /// Grouped histogram of sentence chrF2 in bands of 10 points.
    fn histogram_svg(&self) -> String {
        const WIDTH: f64 = 1040.0;
        const HEIGHT: f64 = 300.0;
        const LEFT: f64 = 56.0;
        const RIGHT: f64 = 12.0;
        const TOP: f64 = 14.0;
        const BOTTOM: f64 = 48.0;
        const BINS: usize = 10;
        let counts: Vec<[usize; BINS]> = self
            .sentence_chrf
            .iter()
            .map(|scores| {
                let mut bins = [0usize; BINS];
                for &score in scores {
                    // 100 goes in the last band.
                    let b = ((score / 10.0).floor().max(0.0) as usize).min(BINS - 1);
                    bins[b] += 1;
                }
                bins
            })
            .collect();
        let max_count = counts.iter().flatten().copied().max().unwrap_or(0).max(1);
        let step = nice_step(max_count as f64 / 4.0);
        let y_max = (max_count as f64 / step).ceil() * step;
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let y = |v: f64| TOP + plot_h * (1.0 - v / y_max);
        let group = plot_w / BINS as f64;
        let bar = group * 0.8 / self.systems.len().max(1) as f64;

        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
             width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" \
             aria-label=\"Histogram of sentence-level chrF2 per system\">"
        );
        let mut v = 0.0;
        while v <= y_max + 1e-9 {
            let gy = y(v);
            let _ = write!(
                svg,
                "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{gy:.1}\" x2=\"{:.1}\" y2=\"{gy:.1}\"/>\
                 <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v}</text>",
                WIDTH - RIGHT,
                LEFT - 6.0,
                gy + 4.0
            );
            v += step;
        }
        for b in 0..BINS {
            let gx = LEFT + group * b as f64;
            let _ = write!(
                svg,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}–{}</text>",
                gx + group / 2.0,
                HEIGHT - BOTTOM + 16.0,
                b * 10,
                b * 10 + 10
            );
            for (s, bins) in counts.iter().enumerate() {
                let count = bins[b];
                let bx = gx + group * 0.1 + bar * s as f64;
                let top = y(count as f64);
                let _ = write!(
                    svg,
                    "<rect x=\"{bx:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\">\
                     <title>{}: {count} lines with chrF2 in [{}, {})</title></rect>",
                    (bar - 1.0).max(1.0),
                    (TOP + plot_h - top).max(0.0),
                    color(s),
                    esc(&self.systems[s]),
                    b * 10,
                    b * 10 + 10
                );
            }
        }
        let _ = write!(
            svg,
            "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>\
             <text class=\"axis-title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">sentence chrF2</text>\
             <text class=\"axis-title\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">lines</text>",
            TOP + plot_h,
            WIDTH - RIGHT,
            TOP + plot_h,
            LEFT + plot_w / 2.0,
            HEIGHT - 10.0,
            TOP + plot_h / 2.0
        );
        svg.push_str("</svg>");
        svg
    }

    fn worst_table_html(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<section><h2>Worst lines for {}</h2>\n<p class=\"note\">The {} lines with the \
             lowest sentence chrF2 of {}, lowest first; the number above each output is its \
             sentence chrF2.</p>\n<div class=\"scroll\"><table class=\"lines\">\n<thead><tr>\
             <th class=\"num\">Line</th>",
            esc(&self.systems[0]),
            self.worst.len(),
            esc(&self.systems[0])
        );
        let has_source = self.worst.iter().any(|l| l.source.is_some());
        if has_source {
            out.push_str("<th class=\"src\">Source</th>");
        }
        out.push_str("<th>Reference</th>");
        for (s, name) in self.systems.iter().enumerate() {
            let _ = write!(
                out,
                "<th><span class=\"swatch\" style=\"background:{}\"></span>{}</th>",
                color(s),
                esc(name)
            );
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for line in &self.worst {
            let _ = write!(out, "<tr><td class=\"num\">{}</td>", line.line + 1);
            if has_source {
                let _ = write!(
                    out,
                    "<td class=\"src\" dir=\"rtl\" lang=\"fa\">{}</td>",
                    esc(line.source.as_deref().unwrap_or(""))
                );
            }
            let _ = write!(out, "<td class=\"ref\">{}</td>", esc(&line.reference));
            for (s, (hyp, chrf)) in line.hyps.iter().zip(&line.chrf).enumerate() {
                let conf = self.confidence[s].as_ref().and_then(|c| c.get(line.line));
                let (style, label) = match conf {
                    Some(&c) => (
                        format!(" style=\"background:{}\"", confidence_color(c)),
                        format!(" <span class=\"conf\">confidence {c:.2}</span>"),
                    ),
                    None => (String::new(), String::new()),
                };
                let _ = write!(
                    out,
                    "<td class=\"hyp\"{style}><span class=\"badge\" style=\"border-color:{}\">{:.1}</span>{label} {}</td>",
                    color(s),
                    chrf,
                    esc(hyp)
                );
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table></div>\n</section>\n");
        out
    }
}

impl Report {
    /// How well each system's own confidence ranked its lines (nothing
    /// when no system has one).
    fn confidence_html(&self) -> String {
        let agreement = self.confidence_agreement();
        if agreement.iter().all(Option::is_none) {
            return String::new();
        }
        let mut out = String::from(
            "<section><h2>Confidence</h2>\n<p class=\"note\">How well each system's own \
             per-line confidence ranks its sentence chrF2: rank (Spearman) and linear \
             (Pearson) correlation, and the mean sentence chrF2 of the least confident fifth of \
             lines against the other four fifths. Lines below are shaded from red (low \
             confidence) to green (high).</p>\n<table class=\"scores\"><thead><tr>\
             <th>System</th><th class=\"num\">Spearman</th><th class=\"num\">Pearson</th>\
             <th class=\"num\">least confident fifth</th><th class=\"num\">the rest</th>\
             </tr></thead>\n<tbody>\n",
        );
        for (s, a) in agreement.iter().enumerate() {
            let Some([rho, r, low, rest]) = a else {
                continue;
            };
            let _ = writeln!(
                out,
                "<tr><td><span class=\"swatch\" style=\"background:{}\"></span>{}</td>\
                 <td class=\"num\">{rho:.3}</td><td class=\"num\">{r:.3}</td>\
                 <td class=\"num\">{low:.2}</td><td class=\"num\">{rest:.2}</td></tr>",
                color(s),
                esc(&self.systems[s])
            );
        }
        out.push_str("</tbody>\n</table>\n</section>\n");
        out
    }
}

/// A light background from red (confidence 0) through yellow to green (1).
fn confidence_color(c: f64) -> String {
    let hue = (c.clamp(0.0, 1.0) * 120.0).round();
    format!("hsl({hue}, 70%, 90%)")
}

fn color(system: usize) -> &'static str {
    PALETTE[system % PALETTE.len()]
}

/// 1, 2 or 5 times a power of ten, at least `raw` (and at least 1: counts).
fn nice_step(raw: f64) -> f64 {
    if raw <= 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&step| step >= raw)
        .unwrap_or(10.0 * magnitude)
}

/// At most `max` characters, with an ellipsis when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root { --fg: #1d2330; --muted: #5b6475; --line: #dde1e8; --bg: #f6f7f9; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 48px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
h2 { font-size: 19px; margin: 30px 0 10px; }
.summary, .note { color: var(--muted); margin: 4px 0 10px; }
.note { font-size: 13px; }
.conf { color: var(--muted); font-size: 12px; }
.legend { list-style: none; padding: 0; margin: 10px 0 0; display: flex; flex-wrap: wrap; gap: 6px 18px; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
table { border-collapse: collapse; background: var(--card); }
table.scores { width: 100%; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
table.scores th, table.scores td { padding: 8px 12px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
table.scores th:first-child { text-align: left; }
table.scores thead th { background: #eef0f4; font-weight: 600; }
.ci { color: var(--muted); font-size: 13px; }
.sig { color: #0b6b3a; font-size: 13px; }
.nosig { color: #a23b2a; font-size: 13px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 14px; }
.card { background: var(--card); margin: 0; padding: 12px 14px 8px; border: 1px solid var(--line); border-radius: 8px; }
.card.wide { overflow-x: auto; }
figcaption { font-weight: 600; margin-bottom: 6px; }
.hint { font-weight: 400; color: var(--muted); font-size: 12px; margin-left: 6px; }
svg.chart { display: block; width: 100%; height: auto; font-family: inherit; }
svg .grid { stroke: #e6e9ee; stroke-width: 1; }
svg .axis { stroke: #9aa3b2; stroke-width: 1; }
svg .tick { fill: var(--muted); font-size: 11px; }
svg .label { fill: var(--fg); font-size: 12px; }
svg .value { fill: var(--fg); font-size: 11.5px; }
svg .axis-title { fill: var(--muted); font-size: 12px; }
svg .whisker line { stroke: #1d2330; stroke-width: 1.4; }
svg .whisker circle { fill: #1d2330; }
.scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
table.lines { width: 100%; table-layout: fixed; font-size: 13.5px; }
table.lines th, table.lines td { padding: 8px 10px; border-bottom: 1px solid var(--line); vertical-align: top; text-align: left; overflow-wrap: anywhere; }
table.lines thead th { background: #eef0f4; position: sticky; top: 0; }
table.lines tbody tr:nth-child(even) td { background: #fafbfc; }
table.lines .num { width: 64px; color: var(--muted); text-align: right; white-space: nowrap; }
table.lines th.src { text-align: right; }
table.lines td.src { text-align: right; font-family: "Vazirmatn", "Noto Naskh Arabic", "Noto Sans Arabic", Tahoma, "DejaVu Sans", sans-serif; font-size: 15px; }
table.lines td.ref { color: #27303f; }
.badge { display: inline-block; min-width: 34px; padding: 0 5px; margin-right: 4px; border: 1.5px solid; border-radius: 9px; font-size: 11px; text-align: center; color: var(--fg); background: #fff; }
details.signatures { margin-top: 26px; color: var(--muted); font-size: 13px; }
details.signatures code { font-size: 12px; }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html_specials() {
        assert_eq!(
            esc(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(0.3), 1.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(12.0), 20.0);
        assert_eq!(nice_step(50.0), 50.0);
        assert_eq!(nice_step(51.0), 100.0);
    }
}
