//! Declarative pipelines: `tinybert run | status | dag` on a TOML pipeline file (DESIGN.md,
//! "Pipeline files"; issue 6).
//!
//! # The file
//! - Top level: optional `description`, optional `workdir` (relative to the file's folder;
//!   default that folder: every relative path below is relative to it), `[params]`, and one
//!   `[stages.<name>]` table per stage (names: letters, digits, `-`, `_`).
//! - A stage: `kind` (a registered [`StageKind`](registry::StageKind), executed in process, no
//!   shell), `deps` (inputs: paths), `outs` (outputs: paths strictly inside `workdir`; they are
//!   removed before the stage runs), optional `desc`, optional `foreach` (a list, or
//!   `${params.NAME}` holding one: one stage `<name>@<item>` per item; or a table of lists,
//!   `{ seed = [1, 2], task = "${params.tasks}" }`: one stage per combination, `<name>@1-RTE`,
//!   its values in key order, read as `${item.seed}`), and the kind's parameters
//!   (any other key; a key the kind does not declare is an error).
//! - References in any string: `${params.a.b}` (dotted into `[params]`; parameters may refer to
//!   parameters), `${item}` (the `foreach` item; `${item.KEY}` of a table `foreach`), `${stages.NAME.out}` (a stage's single output;
//!   `${stages.NAME.outs}` all of them, or all outputs of a `foreach` group). A referenced stage
//!   output is also an input of the referencing stage. A string that is exactly one reference
//!   takes the value's type; `$${` is a literal `${`.
//! - `-p key=value` overrides a `[params]` value (it must exist; dotted keys reach into tables;
//!   the value is TOML, a bare word is a string, `a,b` is a list where the file has one).
//!
//! # What runs
//! The graph comes from outputs to inputs (a path inside another stage's output counts).
//! A stage runs when forced, never run, its kind, the code that computes it (see [`code`]; kept
//! with `--ignore-code-changes`), a parameter, its input or output list or an input's content
//! changed, or an output is missing or changed; the reason is printed.
//! The lock file `<name>.lock` next to the pipeline file records, for every stage that finished,
//! the hashes, parameters and version (see [`lock`]); an entry is removed when its stage starts and
//! written when it succeeds. Outputs of a [resumable](registry::KindSpec::resumable) kind are kept
//! when the previous attempt was interrupted with the same inputs and parameters, so a trainer
//! resumes from its checkpoint. Uncommitted runner state (hash cache, interrupted attempts) lives
//! in `.tinybert/<name>.state.json` next to the pipeline file.
//!
//! # Modules
//! - [`spec`]: parse, override (`-p`), expand `foreach`, resolve `${...}`, check keys;
//!   [`interp`] and [`paths`] are its helpers.
//! - [`dag`]: the graph, its checks, run order and drawings.
//! - [`registry`]: the [`StageKind`](registry::StageKind) trait the runner calls, and
//!   [`JobKind`](registry::JobKind), which makes every [job](crate::jobs) a kind; [`kinds`]
//!   lists the built-in ones, [`test_kinds`] the hidden ones for tests (registered in test builds only).
//! - [`hash`], [`lock`], [`state`], [`staleness`], [`code`]: content hashes, the lock file, the
//!   hash cache, why a stage must run, and the code id of each kind.
//! - [`runner`] executes, [`ui`] shows progress and tables; [`fsutil`] writes atomically.
//! - [`estimate`]: `--estimate`, each stage's projected time, examples and disk, from
//!   miniatures run in a scratch folder.

pub mod code;
pub mod dag;
pub mod estimate;
pub mod fsutil;
pub mod hash;
pub mod interp;
pub mod kinds;
pub mod lock;
pub mod outcome;
pub mod paths;
pub mod ranks;
pub mod registry;
pub mod runner;
pub mod spec;
pub mod stage;
pub mod staleness;
pub mod state;
pub mod test_kinds;
pub mod ui;

#[cfg(test)]
mod tests;
