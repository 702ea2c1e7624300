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

/// A tokenised document: its segments (sentences) stored back to back, none empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    ids: Vec<u32>,
    /// End offset (into `ids`) of each segment.
    ends: Vec<usize>,
}

impl Document {
    /// A document from its segments (empty segments are dropped).
    pub fn from_segments<S: AsRef<[u32]>>(segments: &[S]) -> Self {
        let mut d = Self::default();
        for s in segments {
            d.ids.extend_from_slice(s.as_ref());
            d.end_segment();
        }
        d
    }

    /// The buffer the current segment's ids are appended to (then call [`Self::end_segment`]).
    pub fn ids_mut(&mut self) -> &mut Vec<u32> {
        &mut self.ids
    }

    /// Closes the current segment; an empty one is dropped.
    pub fn end_segment(&mut self) {
        if self.ids.len() > self.ends.last().copied().unwrap_or(0) {
            self.ends.push(self.ids.len());
        }
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the document has no segment.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Number of tokens.
    pub fn num_tokens(&self) -> usize {
        self.ids.len()
    }

    fn start(&self, k: usize) -> usize {
        if k == 0 {
            0
        } else {
            self.ends[k - 1]
        }
    }

    /// Segment `k`.
    pub fn segment(&self, k: usize) -> &[u32] {
        &self.ids[self.start(k)..self.ends[k]]
    }

    /// Segments `from..to` back to back.
    fn span(&self, from: usize, to: usize) -> &[u32] {
        &self.ids[self.start(from)..self.start(to)]
    }
}

/// Instances stored back to back, ready to become Arrow arrays without copying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceBuffer {
    pub input_ids: Vec<u32>,
    pub token_type_ids: Vec<u8>,
    /// Start offset of each instance plus the final end (`len() + 1` entries).
    pub offsets: Vec<i32>,
    pub is_random_next: Vec<bool>,
}

impl Default for InstanceBuffer {
    fn default() -> Self {
        Self {
            input_ids: Vec::new(),
            token_type_ids: Vec::new(),
            offsets: vec![0],
            is_random_next: Vec::new(),
        }
    }
}

impl InstanceBuffer {
    /// Number of instances.
    pub fn len(&self) -> usize {
        self.is_random_next.len()
    }

    /// True when there is no instance.
    pub fn is_empty(&self) -> bool {
        self.is_random_next.is_empty()
    }

    /// Appends all instances of `other`.
    pub fn append(&mut self, other: &InstanceBuffer) {
        let base = self.input_ids.len() as i32;
        self.input_ids.extend_from_slice(&other.input_ids);
        self.token_type_ids.extend_from_slice(&other.token_type_ids);
        self.offsets
            .extend(other.offsets[1..].iter().map(|&o| base + o));
        self.is_random_next.extend_from_slice(&other.is_random_next);
    }

    /// The instances as separate values.
    pub fn to_instances(&self) -> Vec<Instance> {
        (0..self.len())
            .map(|i| {
                let r = self.offsets[i] as usize..self.offsets[i + 1] as usize;
                Instance {
                    input_ids: self.input_ids[r.clone()].to_vec(),
                    token_type_ids: self.token_type_ids[r].to_vec(),
                    is_random_next: self.is_random_next[i],
                }
            })
            .collect()
    }

    /// Appends `[CLS] a [SEP] (b [SEP])`.
    fn push(&mut self, a: &[u32], b: &[u32], random_next: bool, special: SpecialIds) {
        self.input_ids.push(special.cls);
        self.input_ids.extend_from_slice(a);
        self.input_ids.push(special.sep);
        let a_len = a.len() + 2;
        self.token_type_ids.extend(std::iter::repeat_n(0, a_len));
        if !b.is_empty() {
            self.input_ids.extend_from_slice(b);
            self.input_ids.push(special.sep);
            self.token_type_ids
                .extend(std::iter::repeat_n(1, b.len() + 1));
        }
        self.offsets.push(self.input_ids.len() as i32);
        self.is_random_next.push(random_next);
    }
}

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

/// Appends the instances of document `d` of `docs` to `out`.
pub fn document_instances<R: Rng>(
    docs: &[Document],
    d: usize,
    sampler: &DocumentSampler,
    rng: &mut R,
    cfg: &InstanceConfig,
    special: SpecialIds,
    out: &mut InstanceBuffer,
) {
    let doc = &docs[d];
    let budget = cfg.max_seq_len.saturating_sub(3).max(2);
    let mut target = budget;
    if rng.random::<f64>() < cfg.short_seq_prob {
        target = rng.random_range(2..=budget);
    }
    let can_draw_other = cfg.random_next && sampler.has_other(d);
    // The chunk is the segment range `chunk_start..=k`.
    let mut chunk_start = 0usize;
    let mut chunk_len = 0usize;
    let mut k = 0usize;
    while k < doc.len() {
        chunk_len += doc.segment(k).len();
        if k == doc.len() - 1 || chunk_len >= target {
            let chunk_segments = k + 1 - chunk_start;
            let split = if chunk_segments >= 2 {
                rng.random_range(1..chunk_segments)
            } else {
                1
            };
            let a_end = chunk_start + split;
            let first = doc.span(chunk_start, a_end);
            let random_next = can_draw_other && (chunk_segments == 1 || rng.random::<f64>() < 0.5);
            let second = if random_next {
                let want = target.saturating_sub(first.len());
                let other = &docs[sampler.other(rng, d)];
                let start = rng.random_range(0..other.len());
                let mut end = start;
                let mut len = 0;
                while end < other.len() {
                    len += other.segment(end).len();
                    end += 1;
                    if len >= want {
                        break;
                    }
                }
                // Unused segments of the chunk are used again from the next position.
                k = a_end - 1;
                other.span(start, end)
            } else {
                doc.span(a_end, k + 1)
            };
            let (a, b) = truncate_pair(first, second, budget, rng);
            out.push(a, b, random_next, special);
            chunk_start = k + 1;
            chunk_len = 0;
        }
        k += 1;
    }
}

/// Drops a token from a random end of the longer side (B on ties) until the pair fits `budget`.
fn truncate_pair<'s, R: Rng>(
    a: &'s [u32],
    b: &'s [u32],
    budget: usize,
    rng: &mut R,
) -> (&'s [u32], &'s [u32]) {
    let (mut a, mut b) = (a, b);
    while a.len() + b.len() > budget {
        let longer = if a.len() > b.len() { &mut a } else { &mut b };
        *longer = if rng.random::<f64>() < 0.5 {
            &longer[1..]
        } else {
            &longer[..longer.len() - 1]
        };
    }
    (a, b)
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
                let segments: Vec<Vec<u32>> = segs
                    .iter()
                    .map(|&n| {
                        (0..n as u32)
                            .map(|i| 1000 * (d as u32 + 1) + i % 1000)
                            .collect()
                    })
                    .collect();
                Document::from_segments(&segments)
            })
            .collect()
    }

    fn instances(
        docs: &[Document],
        d: usize,
        sampler: &DocumentSampler,
        rng: &mut StdRng,
        cfg: &InstanceConfig,
    ) -> Vec<Instance> {
        let mut out = InstanceBuffer::default();
        document_instances(docs, d, sampler, rng, cfg, SPECIAL, &mut out);
        assert_eq!(out.offsets.len(), out.len() + 1);
        assert_eq!(*out.offsets.last().unwrap() as usize, out.input_ids.len());
        out.to_instances()
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
            for inst in instances(&docs, d, &sampler, &mut rng, &cfg) {
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
            for inst in instances(&docs, d, &sampler, &mut rng, &cfg) {
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
        let inst = instances(&docs, 0, &sampler, &mut rng, &cfg);
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

#[cfg(test)]
mod buffer_tests {
    use super::*;

    #[test]
    fn appended_buffers_keep_their_instances() {
        let special = SpecialIds { cls: 1, sep: 2 };
        let mut a = InstanceBuffer::default();
        a.push(&[5, 6], &[7], false, special);
        let mut b = InstanceBuffer::default();
        b.push(&[8], &[], true, special);
        a.append(&b);
        let got = a.to_instances();
        assert_eq!(got[0].input_ids, vec![1, 5, 6, 2, 7, 2]);
        assert_eq!(got[0].token_type_ids, vec![0, 0, 0, 0, 1, 1]);
        assert_eq!(got[1].input_ids, vec![1, 8, 2]);
        assert!(got[1].is_random_next);
        assert_eq!(a.offsets, vec![0, 6, 9]);
    }

    #[test]
    fn empty_segments_are_dropped_from_documents() {
        let d = Document::from_segments(&[vec![1u32, 2], vec![], vec![3]]);
        assert_eq!(d.len(), 2);
        assert_eq!(d.segment(1), &[3]);
        assert_eq!(d.num_tokens(), 3);
    }
}
