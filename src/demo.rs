//! The quickstart's demo data: a small, seeded, synthetic stand-in for a pre-training corpus
//! and a GLUE task, so that the whole TinyBERT protocol runs offline in minutes.
//!
//! **It is a demo, not a benchmark.** Numbers obtained on it say that the pipeline works, not
//! how well TinyBERT works. What [`write_demo`] writes into a folder:
//!
//! - `corpus.txt`: documents (a blank line between them) of template sentences over a fixed
//!   vocabulary. Each document has a *topic* (film, food, travel, music, sport, books: its nouns
//!   and verbs) and a *mood* (positive or negative: its adjectives and opinion verbs), so that
//!   masked-LM pre-training has something to learn (which words go together).
//! - `SST-2/train.tsv`, `SST-2/dev.tsv`: a binary sentiment task in the GLUE SST-2 format
//!   (header `sentence\tlabel`). A sentence carries one to three opinions (adjectives, possibly
//!   negated: "not good" is negative; or verbs such as "loved"), the label is their majority
//!   polarity (1 positive, 0 negative), and neutral adjectives ("long", "new", ...) appear as
//!   distractors. Negations and mixed sentences (two against one) make it more than a keyword
//!   lookup.
//! - `vocab.txt`: a WordPiece vocabulary (`[PAD] [UNK] [CLS] [SEP] [MASK]`, punctuation, the
//!   words, stems and the `##` suffix pieces). Some adjectives are *not* in it as whole words
//!   ("delightful", "hopeless"), so they tokenize into several pieces ("delight ##ful"), as rare
//!   words do with a real vocabulary; augmentation replaces those through word vectors.
//! - `glove.txt`: word vectors in the GloVe text format for every whole word. They are
//!   synthetic: each word group (positive adjectives, negative adjectives, neutral adjectives,
//!   one topic's nouns, ...) has a random centre and each word is its centre plus small noise,
//!   so a word's nearest neighbours are words of its own group, as with real GloVe vectors.
//! - `README.md` (this description and the sizes) and `summary.json` (the counts).
//!
//! Everything is determined by [`DemoOptions`] (the seed included).

use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use std::fmt::Write as _;
use std::path::Path;

/// Special tokens, first in the vocabulary (in BERT's order of importance, `[PAD]` = 0).
const SPECIAL: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
const PUNCTUATION: [&str; 2] = [".", ","];
/// Function words: in the vocabulary, never the subject of a group vector.
const FUNCTION: [&str; 22] = [
    "the", "a", "was", "is", "and", "but", "it", "this", "that", "of", "in", "with", "for", "to",
    "because", "i", "we", "they", "very", "quite", "really", "so",
];
/// `(topic, nouns, verbs)`: a document's topic decides its nouns and verbs.
#[rustfmt::skip]
const TOPICS: [(&str, [&str; 8], [&str; 4]); 6] = [
    ("film", ["movie", "film", "actor", "scene", "plot", "director", "screen", "story"], ["watched", "filmed", "directed", "played"]),
    ("food", ["meal", "dish", "soup", "bread", "chef", "kitchen", "dinner", "sauce"], ["cooked", "tasted", "served", "baked"]),
    ("travel", ["trip", "hotel", "beach", "city", "train", "flight", "road", "guide"], ["visited", "booked", "toured", "crossed"]),
    ("music", ["song", "album", "band", "singer", "concert", "guitar", "melody", "stage"], ["heard", "sang", "recorded", "performed"]),
    ("sport", ["game", "team", "player", "coach", "match", "goal", "field", "season"], ["won", "coached", "scored", "trained"]),
    ("books", ["book", "novel", "author", "chapter", "page", "poem", "writer", "library"], ["read", "wrote", "published", "edited"]),
];
/// Opinion adjectives that are single WordPiece tokens.
const POSITIVE: [&str; 8] = [
    "good",
    "great",
    "excellent",
    "lovely",
    "brilliant",
    "superb",
    "pleasant",
    "charming",
];
const NEGATIVE: [&str; 8] = [
    "bad", "poor", "terrible", "boring", "dull", "weak", "ugly", "messy",
];
/// Opinion adjectives made of a stem and a suffix piece; the whole word is not in the
/// vocabulary, so it tokenizes into two pieces.
const POSITIVE_PIECES: [(&str, &str); 3] = [("delight", "ful"), ("wonder", "ful"), ("joy", "ful")];
const NEGATIVE_PIECES: [(&str, &str); 3] = [("dread", "ful"), ("hope", "less"), ("point", "less")];
/// Distractors: adjectives with no polarity (two of them multi-piece).
const NEUTRAL: [&str; 8] = [
    "long", "short", "new", "old", "big", "small", "loud", "quiet",
];
const NEUTRAL_PIECES: [(&str, &str); 2] = [("end", "less"), ("color", "ful")];
/// Opinion verbs.
const POSITIVE_VERBS: [&str; 4] = ["loved", "enjoyed", "praised", "liked"];
const NEGATIVE_VERBS: [&str; 4] = ["hated", "disliked", "regretted", "avoided"];
const PRONOUNS: [&str; 3] = ["i", "we", "they"];
const ADVERBS: [&str; 4] = ["very", "quite", "really", "so"];

/// What to generate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, clap::Args)]
pub struct DemoOptions {
    /// Seed of every random choice.
    #[arg(long, default_value_t = DemoOptions::default().seed)]
    pub seed: u64,
    /// Corpus documents.
    #[arg(long, default_value_t = DemoOptions::default().documents, value_parser = crate::jobs::values::positive)]
    pub documents: usize,
    /// Sentences per corpus document.
    #[arg(long, default_value_t = DemoOptions::default().sentences_per_document, value_parser = crate::jobs::values::positive)]
    pub sentences_per_document: usize,
    /// Rows of `SST-2/train.tsv`.
    #[arg(long, default_value_t = DemoOptions::default().train, value_parser = crate::jobs::values::positive)]
    pub train: usize,
    /// Rows of `SST-2/dev.tsv`.
    #[arg(long, default_value_t = DemoOptions::default().dev, value_parser = crate::jobs::values::positive)]
    pub dev: usize,
    /// Dimension of the word vectors in `glove.txt`.
    #[arg(long, default_value_t = DemoOptions::default().glove_dim, value_parser = crate::jobs::values::positive)]
    pub glove_dim: usize,
    /// Also write the sentiment task and a sentence-pair regression as tasks of one's own, in
    /// every file format (`tasks/<format>/<task>/`, [`crate::demo_tasks`]); their test files
    /// have `dev` rows.
    #[arg(long)]
    pub own_tasks: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            documents: 600,
            sentences_per_document: 8,
            train: 2000,
            dev: 400,
            glove_dim: 16,
            own_tasks: false,
        }
    }
}

/// Counts of what [`write_demo`] wrote (also its `summary.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DemoSummary {
    pub options: DemoOptions,
    pub corpus_documents: usize,
    pub corpus_sentences: usize,
    pub corpus_words: usize,
    pub vocab_size: usize,
    pub glove_words: usize,
    pub train_rows: usize,
    pub dev_rows: usize,
    /// Share of label 1 in train and dev.
    pub train_positive: f64,
    pub dev_positive: f64,
}

/// Polarity of an opinion word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mood {
    Positive,
    Negative,
}

impl Mood {
    fn random(rng: &mut StdRng) -> Self {
        if rng.random_bool(0.5) {
            Mood::Positive
        } else {
            Mood::Negative
        }
    }

    fn flip(self) -> Self {
        match self {
            Mood::Positive => Mood::Negative,
            Mood::Negative => Mood::Positive,
        }
    }

    /// An opinion adjective: a single-piece one 3 times in 4, else a multi-piece one.
    fn adjective(self, rng: &mut StdRng) -> String {
        let (single, pieces): (&[&str], &[(&str, &str)]) = match self {
            Mood::Positive => (&POSITIVE, &POSITIVE_PIECES),
            Mood::Negative => (&NEGATIVE, &NEGATIVE_PIECES),
        };
        pick_word(rng, single, pieces, 0.25)
    }

    /// An opinion after "was": an adjective of this polarity, or one time in four "not" and an
    /// adjective of the other polarity.
    fn opinion(self, rng: &mut StdRng) -> String {
        if rng.random_bool(0.25) {
            format!("not {}", self.flip().adjective(rng))
        } else {
            self.adjective(rng)
        }
    }

    fn verb(self, rng: &mut StdRng) -> &'static str {
        match self {
            Mood::Positive => pick(rng, &POSITIVE_VERBS),
            Mood::Negative => pick(rng, &NEGATIVE_VERBS),
        }
    }
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    *items.choose(rng).expect("word lists are not empty")
}

/// A word of a group: with probability `multi` one of the stem+suffix words.
fn pick_word(rng: &mut StdRng, single: &[&str], pieces: &[(&str, &str)], multi: f64) -> String {
    if rng.random_bool(multi) {
        let (stem, suffix) = pick(rng, pieces);
        format!("{stem}{suffix}")
    } else {
        pick(rng, single).to_string()
    }
}

fn neutral(rng: &mut StdRng) -> String {
    pick_word(rng, &NEUTRAL, &NEUTRAL_PIECES, 0.2)
}

/// One corpus sentence of a document with `topic` and `mood`.
fn corpus_sentence(rng: &mut StdRng, topic: usize, mood: Mood) -> String {
    let (_, nouns, verbs) = TOPICS[topic];
    let noun = |rng: &mut StdRng| pick(rng, &nouns);
    // Mostly the document's mood (after "was", sometimes negated); sometimes a neutral word.
    let adj = |rng: &mut StdRng| {
        if rng.random_bool(0.15) {
            neutral(rng)
        } else {
            mood.adjective(rng)
        }
    };
    let opinion = |rng: &mut StdRng| {
        if rng.random_bool(0.15) {
            neutral(rng)
        } else {
            mood.opinion(rng)
        }
    };
    match rng.random_range(0..5) {
        0 => format!(
            "the {} {} {} the {} .",
            adj(rng),
            noun(rng),
            pick(rng, &verbs),
            noun(rng)
        ),
        1 => format!(
            "{} {} the {} because it was {} .",
            pick(rng, &PRONOUNS),
            mood.verb(rng),
            noun(rng),
            opinion(rng)
        ),
        2 => format!(
            "the {} of the {} was {} {} .",
            noun(rng),
            noun(rng),
            pick(rng, &ADVERBS),
            adj(rng)
        ),
        3 => format!(
            "{} {} a {} {} in the {} .",
            pick(rng, &PRONOUNS),
            pick(rng, &verbs),
            neutral(rng),
            noun(rng),
            noun(rng)
        ),
        _ => format!(
            "the {} was {} and the {} was {} .",
            noun(rng),
            opinion(rng),
            noun(rng),
            opinion(rng)
        ),
    }
}

/// One labelled task sentence: one to three opinions (majority polarity = label; "not"
/// flips the adjective after it) among neutral distractors, about a random topic.
pub(crate) fn task_sentence(rng: &mut StdRng) -> (String, u8) {
    let label_mood = Mood::random(rng);
    let (_, nouns, _) = TOPICS[rng.random_range(0..TOPICS.len())];
    let noun = |rng: &mut StdRng| pick(rng, &nouns);
    let distractor = |rng: &mut StdRng| {
        if rng.random_bool(0.5) {
            format!("{} ", neutral(rng))
        } else {
            String::new()
        }
    };
    let sentence = match rng.random_range(0..6) {
        0 => format!("the {} was {} .", noun(rng), label_mood.opinion(rng)),
        1 => format!(
            "the {}{} was {} {} .",
            distractor(rng),
            noun(rng),
            pick(rng, &ADVERBS),
            label_mood.adjective(rng)
        ),
        2 => format!(
            "{} {} the {}{} .",
            pick(rng, &PRONOUNS),
            label_mood.verb(rng),
            distractor(rng),
            noun(rng)
        ),
        3 => format!(
            "{} {} the {} , it was {} and {} .",
            pick(rng, &PRONOUNS),
            label_mood.verb(rng),
            noun(rng),
            label_mood.opinion(rng),
            neutral(rng)
        ),
        // Two against one: the majority decides.
        4 => format!(
            "the {} was {} but the {}{} was {} and {} .",
            noun(rng),
            label_mood.flip().opinion(rng),
            distractor(rng),
            noun(rng),
            label_mood.opinion(rng),
            label_mood.opinion(rng)
        ),
        _ => format!(
            "{} {} the {} , it was {} , even though the {} was {} .",
            pick(rng, &PRONOUNS),
            label_mood.verb(rng),
            noun(rng),
            label_mood.opinion(rng),
            noun(rng),
            label_mood.flip().opinion(rng)
        ),
    };
    let label = u8::from(label_mood == Mood::Positive);
    (sentence, label)
}

/// The vocabulary: special tokens, punctuation, every single-piece word, the stems of the
/// multi-piece words and their `##` suffixes, deduplicated in first-seen order.
fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut add = |w: &str| {
        if !words.iter().any(|x| x == w) {
            words.push(w.to_string());
        }
    };
    SPECIAL.iter().for_each(|w| add(w));
    PUNCTUATION.iter().for_each(|w| add(w));
    FUNCTION.iter().for_each(|w| add(w));
    for (_, nouns, verbs) in TOPICS {
        nouns.iter().chain(verbs.iter()).for_each(|w| add(w));
    }
    for group in [&POSITIVE, &NEGATIVE, &NEUTRAL] {
        group.iter().for_each(|w| add(w));
    }
    for group in [&POSITIVE_VERBS, &NEGATIVE_VERBS] {
        group.iter().for_each(|w| add(w));
    }
    add("even");
    add("though");
    add("not");
    for pieces in [&POSITIVE_PIECES[..], &NEGATIVE_PIECES, &NEUTRAL_PIECES] {
        for (stem, suffix) in pieces {
            add(stem);
            add(&format!("##{suffix}"));
        }
    }
    words
}

/// The word groups that get one vector centre each.
fn vector_groups() -> Vec<Vec<String>> {
    let joined =
        |p: &[(&str, &str)]| -> Vec<String> { p.iter().map(|(s, x)| format!("{s}{x}")).collect() };
    let words = |w: &[&str]| -> Vec<String> { w.iter().map(|s| s.to_string()).collect() };
    let mut groups = vec![
        [words(&POSITIVE), joined(&POSITIVE_PIECES)].concat(),
        [words(&NEGATIVE), joined(&NEGATIVE_PIECES)].concat(),
        [words(&NEUTRAL), joined(&NEUTRAL_PIECES)].concat(),
        words(&POSITIVE_VERBS),
        words(&NEGATIVE_VERBS),
    ];
    for (_, nouns, verbs) in TOPICS {
        groups.push(words(&nouns));
        groups.push(words(&verbs));
    }
    groups
}

fn gaussian(rng: &mut StdRng) -> f64 {
    // Box-Muller.
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// `glove.txt`: one line per whole word, `word v1 ... vd`.
fn glove_text(rng: &mut StdRng, dim: usize) -> (String, usize) {
    let mut text = String::new();
    let mut n = 0;
    let mut line = |word: &str, v: &[f64]| {
        let _ = write!(text, "{word}");
        for x in v {
            let _ = write!(text, " {x:.5}");
        }
        text.push('\n');
        n += 1;
    };
    for group in vector_groups() {
        let centre: Vec<f64> = (0..dim).map(|_| gaussian(rng)).collect();
        for word in &group {
            let v: Vec<f64> = centre.iter().map(|c| c + 0.3 * gaussian(rng)).collect();
            line(word, &v);
        }
    }
    for w in FUNCTION {
        let v: Vec<f64> = (0..dim).map(|_| gaussian(rng)).collect();
        line(w, &v);
    }
    (text, n)
}

fn tsv(rows: &[(String, u8)]) -> String {
    let mut s = String::from("sentence\tlabel\n");
    for (sentence, label) in rows {
        let _ = writeln!(s, "{sentence}\t{label}");
    }
    s
}

fn positive_share(rows: &[(String, u8)]) -> f64 {
    let pos = rows.iter().filter(|(_, l)| *l == 1).count();
    pos as f64 / rows.len().max(1) as f64
}

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    crate::pipeline::fsutil::write_atomic(&dir.join(name), text.as_bytes())
}

/// Writes the demo data set into `dir` (created if needed); see the module documentation.
pub fn write_demo(dir: &Path, opts: &DemoOptions) -> Result<DemoSummary> {
    if opts.documents == 0 || opts.sentences_per_document == 0 {
        bail!("the demo corpus needs at least one document of one sentence");
    }
    if opts.train == 0 || opts.dev == 0 {
        bail!("the demo task needs at least one train and one dev row");
    }
    if opts.glove_dim == 0 {
        bail!("glove_dim must be at least 1");
    }
    let mut rng = StdRng::seed_from_u64(opts.seed);

    let mut corpus = String::new();
    let mut words = 0;
    for d in 0..opts.documents {
        if d > 0 {
            corpus.push('\n');
        }
        let topic = rng.random_range(0..TOPICS.len());
        let mood = Mood::random(&mut rng);
        for _ in 0..opts.sentences_per_document {
            let s = corpus_sentence(&mut rng, topic, mood);
            words += s.split_whitespace().count();
            corpus.push_str(&s);
            corpus.push('\n');
        }
    }
    let train: Vec<(String, u8)> = (0..opts.train).map(|_| task_sentence(&mut rng)).collect();
    let dev: Vec<(String, u8)> = (0..opts.dev).map(|_| task_sentence(&mut rng)).collect();
    let vocab = vocabulary();
    let (glove, glove_words) = glove_text(&mut rng, opts.glove_dim);

    let summary = DemoSummary {
        options: opts.clone(),
        corpus_documents: opts.documents,
        corpus_sentences: opts.documents * opts.sentences_per_document,
        corpus_words: words,
        vocab_size: vocab.len(),
        glove_words,
        train_rows: train.len(),
        dev_rows: dev.len(),
        train_positive: positive_share(&train),
        dev_positive: positive_share(&dev),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write(dir, "corpus.txt", &corpus)?;
    write(dir, "SST-2/train.tsv", &tsv(&train))?;
    write(dir, "SST-2/dev.tsv", &tsv(&dev))?;
    write(dir, "vocab.txt", &(vocab.join("\n") + "\n"))?;
    write(dir, "glove.txt", &glove)?;
    if opts.own_tasks {
        let sizes = crate::demo_tasks::Sizes {
            train: opts.train,
            dev: opts.dev,
            test: opts.dev,
        };
        crate::demo_tasks::write_own_tasks(dir, &mut rng, sizes)?;
    }
    write(dir, "README.md", &readme(&summary))?;
    let json = serde_json::to_string_pretty(&summary).context("summary serialises")?;
    write(dir, "summary.json", &(json + "\n"))?;
    Ok(summary)
}

fn readme(s: &DemoSummary) -> String {
    format!(
        "# Demo data (synthetic)\n\n\
         Generated by the `demo-data` pipeline stage (seed {seed}) for the TinyBERT quickstart. \
         It is a **demo**: it shows that the pipeline runs end to end; its numbers say nothing \
         about TinyBERT on real data.\n\n\
         | file | what |\n|---|---|\n\
         | `corpus.txt` | {docs} documents, {sents} sentences, {words} words; each document has a topic (its nouns and verbs) and a mood (its opinion words) |\n\
         | `SST-2/train.tsv`, `SST-2/dev.tsv` | {train} / {dev} rows of a binary sentiment task in the GLUE SST-2 format; label = majority polarity of the one to three opinion words ({tp:.0}% / {dp:.0}% positive) |\n\
         | `vocab.txt` | {vocab} WordPiece entries: special tokens, the words, stems and `##` suffixes (\"delightful\" = `delight ##ful`) |\n\
         | `glove.txt` | {gw} synthetic {dim}-d word vectors in GloVe text format: each word group's words lie around one random centre |\n",
        seed = s.options.seed,
        docs = s.corpus_documents,
        sents = s.corpus_sentences,
        words = s.corpus_words,
        train = s.train_rows,
        dev = s.dev_rows,
        tp = 100.0 * s.train_positive,
        dp = 100.0 * s.dev_positive,
        vocab = s.vocab_size,
        gw = s.glove_words,
        dim = s.options.glove_dim,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> DemoOptions {
        DemoOptions {
            documents: 20,
            train: 200,
            dev: 50,
            ..DemoOptions::default()
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_files_and_another_seed_other_ones() {
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        write_demo(a.path(), &small()).unwrap();
        write_demo(b.path(), &small()).unwrap();
        let other = DemoOptions { seed: 7, ..small() };
        write_demo(c.path(), &other).unwrap();
        for f in ["corpus.txt", "SST-2/train.tsv", "glove.txt", "vocab.txt"] {
            let read = |d: &tempfile::TempDir| std::fs::read_to_string(d.path().join(f)).unwrap();
            assert_eq!(read(&a), read(&b), "{f}");
            if f != "vocab.txt" {
                assert_ne!(read(&a), read(&c), "{f}");
            }
        }
    }

    #[test]
    fn every_task_word_is_in_the_vocabulary_or_splits_into_its_pieces() {
        let dir = tempfile::tempdir().unwrap();
        write_demo(dir.path(), &small()).unwrap();
        let tok = tinybert_model::load_tokenizer(dir.path()).unwrap();
        let train = std::fs::read_to_string(dir.path().join("SST-2/train.tsv")).unwrap();
        let corpus = std::fs::read_to_string(dir.path().join("corpus.txt")).unwrap();
        let mut multi_piece = 0;
        for line in train.lines().skip(1).chain(corpus.lines()) {
            let text = line.split('\t').next().unwrap();
            let enc = tok.encode(text, false).unwrap();
            assert!(!enc.get_tokens().contains(&"[UNK]".to_string()), "{text}");
            multi_piece += enc
                .get_tokens()
                .iter()
                .filter(|t| t.starts_with("##"))
                .count();
        }
        assert!(multi_piece > 0, "no multi-piece words were generated");
        let enc = tok.encode("delightful", false).unwrap();
        assert_eq!(enc.get_tokens(), ["delight", "##ful"]);
    }

    #[test]
    fn labels_follow_the_majority_of_opinion_words_and_are_balanced() {
        let mut rng = StdRng::seed_from_u64(1);
        let polarity = |w: &str| -> i32 {
            let pos = POSITIVE.contains(&w)
                || POSITIVE_VERBS.contains(&w)
                || POSITIVE_PIECES.iter().any(|(s, x)| format!("{s}{x}") == w);
            let neg = NEGATIVE.contains(&w)
                || NEGATIVE_VERBS.contains(&w)
                || NEGATIVE_PIECES.iter().any(|(s, x)| format!("{s}{x}") == w);
            i32::from(pos) - i32::from(neg)
        };
        let mut positives = 0;
        let mut negations = 0;
        for _ in 0..500 {
            let (s, label) = task_sentence(&mut rng);
            let words: Vec<&str> = s.split_whitespace().collect();
            let score: i32 = (0..words.len())
                .map(|i| match i > 0 && words[i - 1] == "not" {
                    true => -polarity(words[i]),
                    false => polarity(words[i]),
                })
                .sum();
            negations += usize::from(words.contains(&"not"));
            assert_ne!(score, 0, "{s}");
            assert_eq!(u8::from(score > 0), label, "{s}");
            positives += usize::from(label);
        }
        assert!((200..300).contains(&positives), "{positives}");
        assert!(negations > 50, "{negations}");
    }

    #[test]
    fn glove_neighbours_share_the_group() {
        let mut rng = StdRng::seed_from_u64(3);
        let (text, n) = glove_text(&mut rng, 16);
        assert_eq!(text.lines().count(), n);
        let vecs: Vec<(String, Vec<f64>)> = text
            .lines()
            .map(|l| {
                let mut it = l.split(' ');
                let w = it.next().unwrap().to_string();
                (w, it.map(|x| x.parse().unwrap()).collect())
            })
            .collect();
        let cos = |a: &[f64], b: &[f64]| {
            let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let n = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
            dot / (n(a) * n(b))
        };
        let find = |w: &str| vecs.iter().find(|(x, _)| x == w).unwrap().1.clone();
        let nearest = |w: &str| {
            let v = find(w);
            vecs.iter()
                .filter(|(x, _)| x != w)
                .max_by(|a, b| cos(&v, &a.1).total_cmp(&cos(&v, &b.1)))
                .unwrap()
                .0
                .clone()
        };
        let positive: Vec<String> = vector_groups()[0].clone();
        assert!(
            positive.contains(&nearest("delightful")),
            "{}",
            nearest("delightful")
        );
    }
}
