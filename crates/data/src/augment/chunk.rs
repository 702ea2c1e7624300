//! Augmenting one chunk of examples: split every field into words, find each candidate word's
//! candidates (MLM queries batched over the whole chunk, GloVe lookups in parallel and cached),
//! then draw each field's variants from its own seeded generator.

use super::glove::GloveIndex;
use super::mlm::{MlmPredictor, MlmQuery, MlmStats};
use super::partial::AugRow;
use super::source::SourceRow;
use super::stopwords::is_candidate;
use super::variants::{field_variants, Slot};
use super::words::WordSplitter;
use crate::error::Result;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// Where a candidate word's candidates come from.
#[derive(Debug, Clone)]
enum Source {
    /// Index into the chunk's MLM queries (single-piece word).
    Mlm(usize),
    /// GloVe neighbours of the word (several pieces).
    Glove(String),
    /// No piece (cannot happen with WordPiece): the word stays.
    Keep,
}

/// One field's words and candidate positions.
struct FieldPlan {
    words: Vec<String>,
    slots: Vec<(usize, Source)>,
}

/// Settings of the variant generation.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DrawSettings {
    pub n_aug: usize,
    pub k: usize,
    pub p: f64,
    pub seed: u64,
}

/// Counters of the work done on chunks.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct ChunkStats {
    pub examples: u64,
    pub fields: u64,
    pub candidate_positions: u64,
    /// Candidate positions whose word is a single piece (MLM) / several pieces (GloVe).
    pub mlm_positions: u64,
    pub glove_positions: u64,
    pub mlm: MlmStats,
    /// Distinct words searched in GloVe (each once per run: the results are cached).
    pub glove_lookups: u64,
    /// Searched words without a GloVe vector.
    pub glove_misses: u64,
    /// MLM candidates found (at most K per MLM position), and those of them that are whole
    /// words (letters only, no `##` piece) other than the word they would replace: how useful
    /// the teacher's MLM head is to augmentation.
    #[serde(default)]
    pub mlm_candidates: u64,
    #[serde(default)]
    pub mlm_new_words: u64,
    pub glove_seconds: f64,
    pub output_rows: u64,
}

impl ChunkStats {
    /// Adds `o`'s counts to these.
    pub fn add(&mut self, o: &ChunkStats) {
        self.examples += o.examples;
        self.fields += o.fields;
        self.candidate_positions += o.candidate_positions;
        self.mlm_positions += o.mlm_positions;
        self.glove_positions += o.glove_positions;
        self.mlm.add(&o.mlm);
        self.glove_lookups += o.glove_lookups;
        self.glove_misses += o.glove_misses;
        self.mlm_candidates += o.mlm_candidates;
        self.mlm_new_words += o.mlm_new_words;
        self.glove_seconds += o.glove_seconds;
        self.output_rows += o.output_rows;
    }
}

/// One candidate position and its candidates (the `--log-candidates` records).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CandidateRecord {
    pub source_index: u64,
    /// 0: first text field, 1: second.
    pub field: usize,
    /// Index among the field's words.
    pub word_index: usize,
    pub word: String,
    /// `mlm` (single piece), `glove` (several pieces) or `none`.
    pub source: &'static str,
    /// Best first; empty when none were found (the word then stays).
    pub candidates: Vec<String>,
}

/// What [`Augmenter::augment`] returns for a chunk.
pub struct Augmented {
    pub rows: Vec<AugRow>,
    pub stats: ChunkStats,
    /// Empty unless requested.
    pub candidates: Vec<CandidateRecord>,
}

/// The chunk augmenter: the teacher, GloVe and the run-wide GloVe cache.
pub struct Augmenter<'a> {
    pub splitter: WordSplitter<'a>,
    pub mlm: MlmPredictor<'a>,
    pub glove: &'a GloveIndex,
    pub settings: DrawSettings,
    /// Column indices to augment.
    pub text_columns: Vec<usize>,
    /// GloVe candidates per word (`None`: no vector).
    pub cache: HashMap<String, Option<Arc<[String]>>>,
}

impl Augmenter<'_> {
    /// The augmented rows of `rows` in order: for each example its original row, then the
    /// variants of its first field (the other field original), then those of its second field
    /// (the first field original).
    /// With `log`, also every candidate position's candidates (in example, field, word order).
    pub fn augment(&mut self, rows: &[SourceRow], log: bool) -> Result<Augmented> {
        let mut stats = ChunkStats {
            examples: rows.len() as u64,
            ..ChunkStats::default()
        };
        // 1. Words and candidate positions of every field.
        let mut queries: Vec<MlmQuery> = Vec::new();
        let mut query_ids: HashMap<MlmQuery, usize> = HashMap::new();
        type Planned = Vec<(FieldPlan, Vec<(usize, MlmQuery)>)>;
        let planned: Vec<Planned> = rows
            .par_iter()
            .map(|row| {
                self.text_columns
                    .iter()
                    .map(|&c| self.plan_field(row.columns.get(c).map_or("", String::as_str)))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        // Single-piece words become MLM queries (identical ones once).
        let plans: Vec<Vec<FieldPlan>> = planned
            .into_iter()
            .map(|fields| {
                fields
                    .into_iter()
                    .map(|(mut plan, pending)| {
                        for (slot, q) in pending {
                            let next = queries.len();
                            let id = *query_ids.entry(q.clone()).or_insert(next);
                            if id == next {
                                queries.push(q);
                            }
                            plan.slots[slot].1 = Source::Mlm(id);
                        }
                        plan
                    })
                    .collect()
            })
            .collect();
        for plan in plans.iter().flatten() {
            stats.fields += 1;
            stats.candidate_positions += plan.slots.len() as u64;
            for (_, s) in &plan.slots {
                match s {
                    Source::Mlm(_) => stats.mlm_positions += 1,
                    Source::Glove(_) => stats.glove_positions += 1,
                    Source::Keep => {}
                }
            }
        }
        // 2. GloVe neighbours of the words not seen before, in parallel.
        self.lookup_glove(&plans, &mut stats);
        // 3. MLM candidates, batched.
        let (mlm_candidates, mlm_stats) = self.mlm.predict(&queries)?;
        stats.mlm = mlm_stats;
        count_mlm_candidates(&plans, &mlm_candidates, &mut stats);
        // 4. Variants, each field with its own generator.
        let settings = self.settings;
        let cache = &self.cache;
        let text_columns = &self.text_columns;
        let per_row: Vec<Vec<AugRow>> = rows
            .par_iter()
            .zip(plans.par_iter())
            .map(|(row, fields)| {
                let variants: Vec<Vec<String>> = fields
                    .iter()
                    .enumerate()
                    .map(|(f, plan)| {
                        let slots = resolve_slots(plan, &mlm_candidates, cache);
                        let mut rng =
                            StdRng::seed_from_u64(field_seed(settings.seed, row.index, f));
                        let original = row.columns.get(text_columns[f]).map_or("", String::as_str);
                        field_variants(
                            original,
                            &plan.words,
                            &slots,
                            settings.n_aug,
                            settings.p,
                            &mut rng,
                        )
                    })
                    .collect();
                expand_row(row, text_columns, &variants)
            })
            .collect();
        let out: Vec<AugRow> = per_row.into_iter().flatten().collect();
        stats.output_rows = out.len() as u64;
        let candidates = if log {
            candidate_records(rows, &plans, &mlm_candidates, &self.cache)
        } else {
            Vec::new()
        };
        Ok(Augmented {
            rows: out,
            stats,
            candidates,
        })
    }

    /// Splits one field and classifies its candidate words; single-piece words are returned as
    /// pending MLM queries (slot index, query).
    fn plan_field(&self, text: &str) -> Result<(FieldPlan, Vec<(usize, MlmQuery)>)> {
        let words = self.splitter.words(text)?;
        let mut pieces: Vec<u32> = Vec::new();
        let mut spans = Vec::with_capacity(words.len());
        for w in &words {
            let p = self.splitter.pieces(w)?;
            spans.push((pieces.len(), p.len()));
            pieces.extend(p);
        }
        let pieces: Arc<[u32]> = pieces.into();
        let mut slots = Vec::new();
        let mut pending = Vec::new();
        for (i, w) in words.iter().enumerate() {
            if !is_candidate(w) {
                continue;
            }
            let (start, len) = spans[i];
            let source = match len {
                0 => Source::Keep,
                1 => {
                    pending.push((
                        slots.len(),
                        MlmQuery {
                            pieces: pieces.clone(),
                            position: start,
                        },
                    ));
                    Source::Keep
                }
                _ => Source::Glove(w.clone()),
            };
            slots.push((i, source));
        }
        Ok((FieldPlan { words, slots }, pending))
    }

    fn lookup_glove(&mut self, plans: &[Vec<FieldPlan>], stats: &mut ChunkStats) {
        let started = Instant::now();
        let mut todo: Vec<&str> = plans
            .iter()
            .flatten()
            .flat_map(|p| p.slots.iter())
            .filter_map(|(_, s)| match s {
                Source::Glove(w) if !self.cache.contains_key(w) => Some(w.as_str()),
                _ => None,
            })
            .collect();
        todo.sort_unstable();
        todo.dedup();
        let (glove, k) = (self.glove, self.settings.k);
        let found: Vec<(String, Option<Arc<[String]>>)> = todo
            .par_iter()
            .map(|w| (w.to_string(), glove.neighbours(w, k).map(Into::into)))
            .collect();
        stats.glove_lookups += found.len() as u64;
        stats.glove_misses += found.iter().filter(|(_, n)| n.is_none()).count() as u64;
        self.cache.extend(found);
        stats.glove_seconds += started.elapsed().as_secs_f64();
    }
}

/// The candidates found for every candidate position, before the word-itself fallback.
fn candidate_records(
    rows: &[SourceRow],
    plans: &[Vec<FieldPlan>],
    mlm: &[Vec<String>],
    cache: &HashMap<String, Option<Arc<[String]>>>,
) -> Vec<CandidateRecord> {
    let mut out = Vec::new();
    for (row, fields) in rows.iter().zip(plans) {
        for (field, plan) in fields.iter().enumerate() {
            for (i, source) in &plan.slots {
                let (kind, candidates) = match source {
                    Source::Mlm(q) => ("mlm", mlm.get(*q).cloned().unwrap_or_default()),
                    Source::Glove(w) => (
                        "glove",
                        cache
                            .get(w)
                            .and_then(|c| c.as_deref().map(<[String]>::to_vec))
                            .unwrap_or_default(),
                    ),
                    Source::Keep => ("none", Vec::new()),
                };
                out.push(CandidateRecord {
                    source_index: row.index,
                    field,
                    word_index: *i,
                    word: plan.words[*i].clone(),
                    source: kind,
                    candidates,
                });
            }
        }
    }
    out
}

/// Counts the MLM candidates of every MLM position, and those that are new whole words (see
/// [`ChunkStats::mlm_new_words`]).
fn count_mlm_candidates(plans: &[Vec<FieldPlan>], mlm: &[Vec<String>], stats: &mut ChunkStats) {
    for plan in plans.iter().flatten() {
        for (i, source) in &plan.slots {
            let Source::Mlm(q) = source else { continue };
            let word = plan.words[*i].to_lowercase();
            for c in mlm.get(*q).map_or(&[][..], Vec::as_slice) {
                stats.mlm_candidates += 1;
                if c.chars().all(char::is_alphabetic) && c.to_lowercase() != word {
                    stats.mlm_new_words += 1;
                }
            }
        }
    }
}

/// The slots of a field with their candidates (the word itself when there are none).
fn resolve_slots(
    plan: &FieldPlan,
    mlm: &[Vec<String>],
    cache: &HashMap<String, Option<Arc<[String]>>>,
) -> Vec<Slot> {
    plan.slots
        .iter()
        .map(|(i, source)| {
            let found: &[String] = match source {
                Source::Mlm(q) => mlm.get(*q).map_or(&[], Vec::as_slice),
                Source::Glove(w) => cache.get(w).and_then(Option::as_deref).unwrap_or(&[]),
                Source::Keep => &[],
            };
            let candidates = if found.is_empty() {
                vec![plan.words[*i].clone()]
            } else {
                found.to_vec()
            };
            Slot {
                word: *i,
                candidates,
            }
        })
        .collect()
}

/// The output rows of one example: the original, then field by field the new variants with the
/// other fields original.
fn expand_row(row: &SourceRow, text_columns: &[usize], variants: &[Vec<String>]) -> Vec<AugRow> {
    let mut out = vec![(row.index, row.columns.clone())];
    for (f, vs) in variants.iter().enumerate() {
        for v in vs.iter().skip(1) {
            let mut cols = row.columns.clone();
            if let Some(c) = text_columns.get(f).and_then(|&c| cols.get_mut(c)) {
                c.clone_from(v);
            }
            out.push((row.index, cols));
        }
    }
    out
}

/// The generator seed of field `field` of example `index` (SplitMix64 of the triple).
pub fn field_seed(seed: u64, index: u64, field: usize) -> u64 {
    let mut z = seed
        .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add((field as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
