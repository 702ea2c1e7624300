//! BERT pre-training instances from tokenised documents, following Google's
//! `create_pretraining_data.py` as used by TinyBERT's `pregenerate_training_data.py`:
//!
//! - a target length of `max_seq_len - 3` tokens, or with probability `short_seq_prob` a random
//!   length in `[2, max_seq_len - 3]`, drawn once per document;
//! - segments of one document are gathered into a chunk until the target is reached (or the
//!   document ends); a random prefix of the chunk (at least one segment) becomes A;
//! - B is the rest of the chunk (the actual continuation), or, when the chunk has a single
//!   segment or with probability 1/2, text from another document of the block drawn with
//!   probability proportional to its segment count, starting at a random segment
//!   (`is_random_next`); the unused chunk segments are then revisited;
//! - the pair is truncated to the budget by dropping a token from the front or back (at random)
//!   of the longer side; output `[CLS] A [SEP] B [SEP]`, segment ids 0 / 1.
//!
//! A and an actual-continuation B always come from one document: documents are never mixed
//! except by the deliberate random-next draw. With `random_next = false` (the reference's
//! `--one_seq`) B is always the continuation, and a chunk of one segment gives `[CLS] A [SEP]`.
//! No MLM corruption is applied (TinyBERT uses no MLM loss).

use crate::example::Instance;
use rand::Rng;

/// Settings of instance creation.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InstanceConfig {
    /// Maximum instance length, special tokens included (128).
    pub max_seq_len: usize,
    /// Probability of a shorter target length for a document (0.1).
    pub short_seq_prob: f64,
    /// Allow B to be drawn from another document (BERT next-sentence sampling).
    pub random_next: bool,
}

impl Default for InstanceConfig {
    fn default() -> Self {
        Self {
            max_seq_len: 128,
            short_seq_prob: 0.1,
            random_next: true,
        }
    }
}

/// `[CLS]` and `[SEP]` ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialIds {
    pub cls: u32,
    pub sep: u32,
}

/// A tokenised document: its segments (sentences), none empty.
pub type Document = Vec<Vec<u32>>;

/// Draws "another document" of a block, proportionally to segment counts.
pub struct DocumentSampler {
    /// Inclusive cumulative segment counts.
    cumulative: Vec<usize>,
}

impl DocumentSampler {
    /// Prepares sampling among `docs`.
    pub fn new(docs: &[Document]) -> Self {
        let cumulative = docs
            .iter()
            .scan(0usize, |acc, d| {
                *acc += d.len();
                Some(*acc)
            })
            .collect();
        Self { cumulative }
    }

    fn size(&self, d: usize) -> usize {
        self.cumulative[d] - if d == 0 { 0 } else { self.cumulative[d - 1] }
    }

    /// True when some document other than `d` has segments.
    pub fn has_other(&self, d: usize) -> bool {
        let total = self.cumulative.last().copied().unwrap_or(0);
        total > self.size(d)
    }

    /// A document other than `current` (call only when [`Self::has_other`]): a segment position
    /// is drawn uniformly in the circular range after `current`'s segments, then its document
    /// is looked up.
    pub fn other<R: Rng>(&self, rng: &mut R, current: usize) -> usize {
        let total = self.cumulative[self.cumulative.len() - 1];
        let lo = self.cumulative[current];
        let pos = rng.random_range(lo..lo + total - self.size(current)) % total;
        self.cumulative.partition_point(|&c| c <= pos)
    }
}

/// Creates the instances of document `d` of `docs`.
pub fn document_instances<R: Rng>(
    docs: &[Document],
    d: usize,
    sampler: &DocumentSampler,
    rng: &mut R,
    cfg: &InstanceConfig,
    special: SpecialIds,
) -> Vec<Instance> {
    let segments = &docs[d];
    let budget = cfg.max_seq_len.saturating_sub(3).max(2);
    let mut target = budget;
    if rng.random::<f64>() < cfg.short_seq_prob {
        target = rng.random_range(2..=budget);
    }
    let can_draw_other = cfg.random_next && sampler.has_other(d);
    let mut out = Vec::new();
    let mut chunk: Vec<usize> = Vec::new();
    let mut chunk_len = 0usize;
    let mut k = 0usize;
    while k < segments.len() {
        chunk.push(k);
        chunk_len += segments[k].len();
        if k == segments.len() - 1 || chunk_len >= target {
            let split = if chunk.len() >= 2 {
                rng.random_range(1..chunk.len())
            } else {
                1
            };
            let first: Vec<u32> = chunk[..split]
                .iter()
                .flat_map(|&i| segments[i].iter().copied())
                .collect();
            let mut second = Vec::new();
            let random_next = can_draw_other && (chunk.len() == 1 || rng.random::<f64>() < 0.5);
            if random_next {
                let want = target.saturating_sub(first.len());
                let other = &docs[sampler.other(rng, d)];
                let start = rng.random_range(0..other.len());
                for seg in &other[start..] {
                    second.extend_from_slice(seg);
                    if second.len() >= want {
                        break;
                    }
                }
                // Unused segments of the chunk are used again from the next position.
                k -= chunk.len() - split;
            } else {
                for &i in &chunk[split..] {
                    second.extend_from_slice(&segments[i]);
                }
            }
            out.push(assemble(&first, &second, budget, random_next, rng, special));
            chunk.clear();
            chunk_len = 0;
        }
        k += 1;
    }
    out
}

/// Truncates the pair to `budget` tokens (a random end of the longer side at a time) and adds
/// the special tokens. An empty `b` gives `[CLS] A [SEP]`.
fn assemble<R: Rng>(
    a: &[u32],
    b: &[u32],
    budget: usize,
    random_next: bool,
    rng: &mut R,
    special: SpecialIds,
) -> Instance {
    let (mut a0, mut a1, mut b0, mut b1) = (0, a.len(), 0, b.len());
    while (a1 - a0) + (b1 - b0) > budget {
        let (lo, hi) = if a1 - a0 > b1 - b0 {
            (&mut a0, &mut a1)
        } else {
            (&mut b0, &mut b1)
        };
        if rng.random::<f64>() < 0.5 {
            *lo += 1;
        } else {
            *hi -= 1;
        }
    }
    let (a, b) = (&a[a0..a1], &b[b0..b1]);
    let extra = if b.is_empty() { 2 } else { 3 };
    let mut ids = Vec::with_capacity(a.len() + b.len() + extra);
    ids.push(special.cls);
    ids.extend_from_slice(a);
    ids.push(special.sep);
    let mut types = vec![0u8; ids.len()];
    if !b.is_empty() {
        ids.extend_from_slice(b);
        ids.push(special.sep);
        types.resize(ids.len(), 1);
    }
    Instance {
        input_ids: ids,
        token_type_ids: types,
        is_random_next: random_next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const SPECIAL: SpecialIds = SpecialIds { cls: 101, sep: 102 };

    /// Document `d`'s tokens are all `1000 * (d + 1) + i`, so their origin can be read back.
    fn docs(sizes: &[&[usize]]) -> Vec<Document> {
        sizes
            .iter()
            .enumerate()
            .map(|(d, segs)| {
                segs.iter()
                    .map(|&n| {
                        (0..n as u32)
                            .map(|i| 1000 * (d as u32 + 1) + i % 1000)
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    fn origin(id: u32) -> u32 {
        id / 1000
    }

    #[test]
    fn instances_respect_the_length_budget_and_segment_layout() {
        let docs = docs(&[&[30, 50, 70, 20, 90], &[200], &[10, 10, 10]]);
        let sampler = DocumentSampler::new(&docs);
        let cfg = InstanceConfig::default();
        let mut rng = StdRng::seed_from_u64(1);
        for d in 0..docs.len() {
            for inst in document_instances(&docs, d, &sampler, &mut rng, &cfg, SPECIAL) {
                assert!(inst.input_ids.len() <= 128);
                assert_eq!(inst.input_ids[0], 101);
                assert_eq!(*inst.input_ids.last().unwrap(), 102);
                assert_eq!(inst.input_ids.len(), inst.token_type_ids.len());
                let seps = inst.input_ids.iter().filter(|&&t| t == 102).count();
                assert_eq!(seps, 2);
            }
        }
    }

    #[test]
    fn a_and_actual_next_b_come_from_the_same_document() {
        let docs = docs(&[&[40, 40, 40, 40], &[40, 40, 40], &[40, 40, 40, 40, 40]]);
        let sampler = DocumentSampler::new(&docs);
        let cfg = InstanceConfig::default();
        let mut rng = StdRng::seed_from_u64(3);
        let mut random = 0;
        for d in 0..docs.len() {
            for inst in document_instances(&docs, d, &sampler, &mut rng, &cfg, SPECIAL) {
                let sep = inst.input_ids.iter().position(|&t| t == 102).unwrap();
                let a = &inst.input_ids[1..sep];
                let b = &inst.input_ids[sep + 1..inst.input_ids.len() - 1];
                assert!(a.iter().all(|&t| origin(t) == d as u32 + 1));
                let b_doc = origin(b[0]);
                assert!(b.iter().all(|&t| origin(t) == b_doc), "B spans documents");
                assert_eq!(inst.is_random_next, b_doc != d as u32 + 1);
                random += usize::from(inst.is_random_next);
            }
        }
        assert!(random > 0);
    }

    #[test]
    fn without_random_next_a_single_segment_has_no_b() {
        let docs = docs(&[&[10], &[10]]);
        let sampler = DocumentSampler::new(&docs);
        let cfg = InstanceConfig {
            random_next: false,
            ..InstanceConfig::default()
        };
        let mut rng = StdRng::seed_from_u64(0);
        let inst = document_instances(&docs, 0, &sampler, &mut rng, &cfg, SPECIAL);
        assert_eq!(inst.len(), 1);
        assert_eq!(inst[0].input_ids.len(), 12);
        assert!(inst[0].token_type_ids.iter().all(|&t| t == 0));
    }

    #[test]
    fn the_sampler_never_returns_the_current_document() {
        let three = docs(&[&[1, 1], &[1], &[1, 1, 1]]);
        let sampler = DocumentSampler::new(&three);
        let mut rng = StdRng::seed_from_u64(9);
        for cur in 0..3 {
            for _ in 0..200 {
                assert_ne!(sampler.other(&mut rng, cur), cur);
            }
        }
        let lone = docs(&[&[1, 1]]);
        assert!(!DocumentSampler::new(&lone).has_other(0));
    }
}
