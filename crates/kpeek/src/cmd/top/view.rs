//! What `kpeek top` shows and how keys change it: the table (sorted, filtered), the detail view
//! (per-CPU values, a history chart) and the help.

use std::sync::Arc;
use std::time::Duration;

use kpeek_monitor::expo::number;
use kpeek_monitor::model::MetricDesc;
use kpeek_monitor::monitor::{Monitor, Row};
use kpeek_monitor::order::{Order, SortBy};
use ratatui::Frame;
use ratatui::crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Cell, Chart, Clear, Dataset, GraphType, Paragraph, Row as TRow, Table,
    TableState,
};

/// The sortable columns.
const COLUMNS: [&str; 5] = ["NAME", "LABELS", "VALUE", "RATE/s", "AVG10/s"];
/// What each column sorts by.
const SORTS: [SortBy; 5] = [
    SortBy::Name,
    SortBy::Labels,
    SortBy::Value,
    SortBy::Rate,
    SortBy::Avg10,
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Table,
    Detail,
    Help,
}

pub struct App {
    mode: Mode,
    sort: usize,
    descending: bool,
    filter: String,
    typing: bool,
    selected: usize,
    /// The selected series, kept across re-sorts.
    selected_key: Option<Arc<MetricDesc>>,
    pub paused: bool,
    pub ended: bool,
    interval: Duration,
    replay: bool,
    /// The rows shown (indexes into the monitor's rows), filtered and sorted, redoing only
    /// what changed.
    order: Order,
}

fn full_name(r: &Row) -> String {
    format!("{}:{}", r.desc.source, r.desc.name)
}

fn spark(hist: impl DoubleEndedIterator<Item = f64>, n: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let mut vals: Vec<f64> = hist.rev().take(n).collect();
    vals.reverse();
    let max = vals.iter().copied().fold(0.0f64, f64::max);
    vals.iter()
        .map(|&v| {
            if max <= 0.0 || !v.is_finite() {
                BARS[0]
            } else {
                BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

fn fmt_num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x.abs() >= 1e6 => format!("{x:.3e}"),
        Some(x) if x.fract() == 0.0 => number(x),
        Some(x) => format!("{x:.2}"),
    }
}

impl App {
    pub fn new(interval: Duration, replay: bool) -> Self {
        App {
            mode: Mode::Table,
            sort: 0,
            descending: false,
            filter: String::new(),
            typing: false,
            selected: 0,
            selected_key: None,
            paused: false,
            ended: false,
            interval,
            replay,
            order: Order::new(),
        }
    }

    fn rebuild(&mut self, m: &Monitor) {
        self.order.set_sort(SORTS[self.sort], self.descending);
        self.order.set_filter(&self.filter);
        self.order.refresh(m);
        if let Some(k) = &self.selected_key
            && let Some(p) = self.order.position(m, k)
        {
            self.selected = p;
        }
        self.selected = self.selected.min(self.order.view().len().saturating_sub(1));
    }

    fn remember(&mut self, m: &Monitor) {
        self.selected_key = self
            .order
            .view()
            .get(self.selected)
            .map(|&i| m.rows()[i].desc.clone());
    }

    /// Handle a key; `true` to quit.
    pub fn key(&mut self, code: KeyCode, m: &Monitor) -> bool {
        if self.typing {
            match code {
                KeyCode::Enter => self.typing = false,
                KeyCode::Esc => {
                    self.typing = false;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) => self.filter.push(c),
                _ => {}
            }
            self.selected = 0;
            return false;
        }
        if self.mode != Mode::Table {
            match code {
                KeyCode::Char('q') | KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?') => {
                    self.mode = Mode::Table
                }
                KeyCode::Char('p') => self.paused = !self.paused,
                _ => {}
            }
            return false;
        }
        let page = 20;
        match code {
            KeyCode::Char('q') | KeyCode::Esc => return true,
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Char('p') => self.paused = !self.paused,
            KeyCode::Char('/') => {
                self.typing = true;
                self.filter.clear();
            }
            KeyCode::Enter if !self.order.view().is_empty() => self.mode = Mode::Detail,
            KeyCode::Char('s') => {
                self.sort = (self.sort + 1) % COLUMNS.len();
                self.descending = self.sort >= 2;
            }
            KeyCode::Char('S') | KeyCode::Char('r') => self.descending = !self.descending,
            KeyCode::Char(c @ '1'..='5') => {
                let col = c as usize - '1' as usize;
                if self.sort == col {
                    self.descending = !self.descending;
                } else {
                    self.sort = col;
                    self.descending = col >= 2;
                }
            }
            KeyCode::Down | KeyCode::Char('j') => self.selected += 1,
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::PageDown => self.selected += page,
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(page),
            KeyCode::Home => self.selected = 0,
            KeyCode::End => self.selected = usize::MAX,
            _ => {}
        }
        self.selected = self.selected.min(self.order.view().len().saturating_sub(1));
        self.remember(m);
        false
    }

    pub fn draw(&mut self, f: &mut Frame, m: &Monitor) {
        self.rebuild(m);
        let errors: Vec<_> = m.status().iter().filter(|s| !s.ok).collect();
        let [top, errs, main, bottom] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(errors.len().min(6) as u16),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(f.area());
        let title = format!(
            " kpeek top — {} metrics, {} shown, {} source error(s), {} {}{}",
            m.rows().len(),
            self.order.view().len(),
            errors.len(),
            if self.replay { "replay" } else { "every" },
            if self.replay {
                String::new()
            } else {
                format!("{:?}", self.interval)
            },
            if self.paused { "  [PAUSED]" } else { "" },
        );
        f.render_widget(
            Paragraph::new(title).style(Style::new().add_modifier(Modifier::REVERSED)),
            top,
        );
        let err_lines: Vec<Line> = errors
            .iter()
            .map(|s| {
                Line::from(vec![
                    Span::styled(
                        "ERROR ",
                        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(format!(
                        "{}: {}",
                        s.source,
                        s.error.as_deref().unwrap_or("")
                    )),
                ])
            })
            .collect();
        f.render_widget(Paragraph::new(err_lines), errs);
        match self.mode {
            Mode::Table | Mode::Help => self.draw_table(f, m, main),
            Mode::Detail => self.draw_detail(f, m, main),
        }
        let status = if self.typing {
            format!("/{}_   (Enter keep, Esc clear)", self.filter)
        } else {
            format!(
                " sort: {} {}{}{}   ? help  / filter  p pause  Enter details  q quit",
                COLUMNS[self.sort],
                if self.descending { "desc" } else { "asc" },
                if self.filter.is_empty() {
                    String::new()
                } else {
                    format!("   filter: {}", self.filter)
                },
                if self.ended {
                    "   [end of recording]"
                } else {
                    ""
                },
            )
        };
        f.render_widget(Paragraph::new(status), bottom);
        if self.mode == Mode::Help {
            let area = centered(f.area(), 64, 18);
            f.render_widget(Clear, area);
            let help = [
                "Up/Down, PgUp/PgDn, Home/End   move",
                "Enter      details: per-CPU values, rate history chart",
                "s / S      sort by the next column / reverse the order",
                "1..5       sort by NAME, LABELS, VALUE, RATE, AVG10",
                "/          filter by name or labels (Enter keep, Esc clear)",
                "p          pause / resume updates",
                "?          this help",
                "q, Esc     back / quit;  Ctrl-C quit",
                "",
                "RATE is per second since the last refresh; `reset` marks a",
                "counter that went back (module reload, counter reset).",
                "ERROR rows are sources that failed this round.",
            ];
            f.render_widget(
                Paragraph::new(help.iter().map(|l| Line::from(*l)).collect::<Vec<_>>())
                    .block(Block::default().borders(Borders::ALL).title(" help ")),
                area,
            );
        }
    }

    fn draw_table(&mut self, f: &mut Frame, m: &Monitor, area: Rect) {
        let rows = m.rows();
        let height = area.height.saturating_sub(1) as usize;
        // Only the visible window is built: cheap with 10,000 metrics.
        let first = self.selected.saturating_sub(height.saturating_sub(1));
        let trs: Vec<TRow> = self
            .order
            .view()
            .iter()
            .skip(first)
            .take(height)
            .map(|&i| {
                let r = &rows[i];
                let rate = if r.reset {
                    "reset".to_owned()
                } else {
                    fmt_num(r.rate)
                };
                TRow::new(vec![
                    Cell::from(full_name(r)),
                    Cell::from(r.desc.labels_text()),
                    Cell::from(fmt_num(Some(r.value))),
                    Cell::from(rate),
                    Cell::from(fmt_num(m.series().average(r.id, 10.0))),
                    Cell::from(spark(m.series().history(r.id), 16)),
                ])
            })
            .collect();
        let header = TRow::new(
            COLUMNS
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mark = if i == self.sort {
                        if self.descending { "▼" } else { "▲" }
                    } else {
                        ""
                    };
                    Cell::from(format!("{c}{mark}"))
                })
                .chain([Cell::from("TREND")]),
        )
        .style(Style::new().add_modifier(Modifier::BOLD));
        let table = Table::new(
            trs,
            [
                Constraint::Percentage(30),
                Constraint::Percentage(26),
                Constraint::Length(14),
                Constraint::Length(12),
                Constraint::Length(12),
                Constraint::Length(16),
            ],
        )
        .header(header)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
        let mut st = TableState::default();
        if !self.order.view().is_empty() {
            st.select(Some(self.selected - first));
        }
        f.render_stateful_widget(table, area, &mut st);
    }

    fn draw_detail(&mut self, f: &mut Frame, m: &Monitor, area: Rect) {
        let Some(&i) = self.order.view().get(self.selected) else {
            self.mode = Mode::Table;
            return;
        };
        let r = &m.rows()[i];
        let d = &r.desc;
        let [info, rest] =
            Layout::vertical([Constraint::Length(8), Constraint::Min(4)]).areas(area);
        let [cpus, chart] =
            Layout::horizontal([Constraint::Length(34), Constraint::Min(20)]).areas(rest);
        let [a1, a10, a60] = m.averages(r);
        let text = vec![
            Line::from(format!("{}  {}", full_name(r), d.labels_text())),
            Line::from(format!(
                "kind {}   unit {}   {}",
                d.kind.name(),
                if d.unit.is_empty() { "-" } else { &d.unit },
                d.help
            )),
            Line::from(format!(
                "value {}   rate {}/s   resets {}",
                fmt_num(Some(r.value)),
                fmt_num(r.rate),
                m.series().resets(r.id)
            )),
            Line::from(format!(
                "average 1s {}   10s {}   60s {}",
                fmt_num(a1),
                fmt_num(a10),
                fmt_num(a60)
            )),
        ];
        f.render_widget(
            Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(" details ")),
            info,
        );
        let cpu_rows: Vec<TRow> = r
            .cpu_rates(m.series())
            .iter()
            .map(|(c, v, rate)| {
                TRow::new(vec![
                    Cell::from(c.to_string()),
                    Cell::from(v.to_string()),
                    Cell::from(fmt_num(*rate)),
                ])
            })
            .collect();
        let title = if cpu_rows.is_empty() {
            " per CPU: none "
        } else {
            " per CPU "
        };
        f.render_widget(
            Table::new(
                cpu_rows,
                [
                    Constraint::Length(5),
                    Constraint::Length(12),
                    Constraint::Length(12),
                ],
            )
            .header(TRow::new(vec!["CPU", "VALUE", "RATE/s"]))
            .block(Block::default().borders(Borders::ALL).title(title)),
            cpus,
        );
        let pts: Vec<(f64, f64)> = m
            .series()
            .history(r.id)
            .enumerate()
            .map(|(i, v)| (i as f64, v))
            .collect();
        let max = pts.iter().map(|p| p.1).fold(0.0f64, f64::max).max(1.0);
        let n = pts.len().max(2) as f64;
        let what = if r.desc.kind == kpeek_monitor::model::Kind::Counter {
            "rate/s"
        } else {
            "value"
        };
        let ds = Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .data(&pts);
        f.render_widget(
            Chart::new(vec![ds])
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(format!(" history ({what}) ")),
                )
                .x_axis(Axis::default().bounds([0.0, n - 1.0]))
                .y_axis(
                    Axis::default()
                        .bounds([0.0, max])
                        .labels(vec![Line::from("0"), Line::from(fmt_num(Some(max)))]),
                ),
            chart,
        );
    }
}

fn centered(a: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(a.width);
    let h = h.min(a.height);
    Rect::new(a.x + (a.width - w) / 2, a.y + (a.height - h) / 2, w, h)
}
