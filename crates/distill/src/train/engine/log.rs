//! Running means between two `metrics.jsonl` lines.

/// Losses, terms, examples and time of the steps since the last logged line.
#[derive(Default)]
pub struct Window {
    steps: usize,
    loss: f64,
    terms: Vec<(&'static str, f64)>,
    examples: usize,
    seconds: f64,
}

/// The means of a window.
pub struct Means {
    pub loss: f64,
    pub terms: Vec<(&'static str, f64)>,
    pub examples_per_s: f64,
}

impl Window {
    /// Adds one applied step.
    pub fn add(&mut self, loss: f64, terms: &[(&'static str, f64)], examples: usize, seconds: f64) {
        self.steps += 1;
        self.loss += loss;
        for (i, (n, v)) in terms.iter().enumerate() {
            match self.terms.get_mut(i) {
                Some(slot) => slot.1 += v,
                None => self.terms.push((n, *v)),
            }
        }
        self.examples += examples;
        self.seconds += seconds;
    }

    /// The means since the last call (NaN losses when no step was added), and a fresh window.
    pub fn take(&mut self) -> Means {
        let n = self.steps as f64;
        let means = Means {
            loss: if self.steps == 0 {
                f64::NAN
            } else {
                self.loss / n
            },
            terms: self.terms.iter().map(|(k, v)| (*k, v / n)).collect(),
            examples_per_s: self.examples as f64 / self.seconds.max(1e-9),
        };
        *self = Window::default();
        means
    }
}
