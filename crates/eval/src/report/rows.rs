//! The rows of a report: where their numbers come from, their cells and the share of the
//! teacher's score they retain (what the report, its renderers and its charts share).

/// Where a row's numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The paper (SPEC §8).
    Paper,
    /// Our run folders.
    Ours,
}

/// Share of the teacher's score a row keeps: Σ row cells / Σ teacher cells × 100 over the
/// `columns` columns both rows have, of `of` columns in the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retained {
    pub percent: f64,
    pub columns: usize,
    pub of: usize,
}

/// The spread of a cell computed from several runs of one task (seeds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Sample standard deviation (n - 1) of the runs' scores, percent.
    pub std: f64,
    /// Runs.
    pub n: usize,
}

/// One run behind one of our rows.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// Path as shown (relative to the spec's folder).
    pub path: String,
    /// Canonical task name.
    pub task: String,
    /// Step of the kept checkpoint, if the summary has it.
    pub step: Option<u64>,
    /// Dev selection score, percent.
    pub score: f64,
}

/// One table row. Scores are percentages; `None` is "no result".
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    pub source: Source,
    pub label: String,
    pub teacher: bool,
    /// Parameter count.
    pub params: Option<f64>,
    pub speedup: Option<f64>,
    /// One per layout column; ours: the mean over the row's runs of that column's task.
    pub cells: Vec<Option<f64>>,
    /// One per layout column: the spread when the row has several runs of its task (seeds).
    pub spread: Vec<Option<Spread>>,
    /// Paper rows: the printed average; ours: the mean of the cells when all are present.
    pub avg: Option<f64>,
    pub retained: Option<Retained>,
    /// Ours only: the runs the row was read from.
    pub runs: Vec<RunInfo>,
}
