//! When a figure has stopped growing: fed one sample per tick, it says so once a whole
//! window of ticks brought no growth worth counting.

/// Watches a growing figure (RSS in KiB) tick by tick.
#[derive(Debug, Clone)]
pub(crate) struct Settle {
    /// Growth up to this many units since the last counted growth is noise.
    noise: u64,
    /// Ticks without growth (and without progress) that make the figure settled.
    window: usize,
    /// The figure the last counted growth reached.
    level: Option<u64>,
    /// The largest sample seen.
    peak: u64,
    /// Ticks since the last counted growth or progress.
    quiet: usize,
}

impl Settle {
    /// Settled after `window` ticks with no growth above `noise`.
    pub(crate) fn new(noise: u64, window: usize) -> Self {
        Self {
            noise,
            window,
            level: None,
            peak: 0,
            quiet: 0,
        }
    }

    /// One tick: the figure now, and whether the client made progress since the last
    /// tick (bytes sent or answered), which also keeps the figure unsettled. Returns
    /// whether it has settled.
    pub(crate) fn tick(&mut self, sample: u64, progress: bool) -> bool {
        self.peak = self.peak.max(sample);
        match self.level {
            Some(level) if sample <= level.saturating_add(self.noise) && !progress => {
                self.quiet += 1;
            }
            _ => {
                self.level = Some(sample.max(self.level.unwrap_or(0)));
                self.quiet = 0;
            }
        }
        self.settled()
    }

    /// Whether a whole window passed with no growth and no progress.
    pub(crate) fn settled(&self) -> bool {
        self.quiet >= self.window
    }

    /// The largest sample seen.
    pub(crate) fn peak(&self) -> u64 {
        self.peak
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticks(settle: &mut Settle, samples: &[(u64, bool)]) -> Vec<bool> {
        samples
            .iter()
            .map(|&(sample, progress)| settle.tick(sample, progress))
            .collect()
    }

    #[test]
    fn settles_after_a_window_without_growth() {
        let mut settle = Settle::new(10, 3);
        let samples = [
            (100, false),
            (200, false),
            (205, false),
            (190, false),
            (210, false),
        ];
        assert_eq!(
            ticks(&mut settle, &samples),
            [false, false, false, false, true]
        );
        assert_eq!(settle.peak(), 210);
    }

    #[test]
    fn growth_above_the_noise_starts_the_window_again() {
        let mut settle = Settle::new(10, 2);
        let samples = [
            (100, false),
            (105, false),
            (150, false),
            (155, false),
            (158, false),
        ];
        assert_eq!(
            ticks(&mut settle, &samples),
            [false, false, false, false, true]
        );
    }

    #[test]
    fn slow_creep_is_growth_once_it_passes_the_noise() {
        // Each tick grows under the noise, but the sum passes it: still growing.
        let mut settle = Settle::new(10, 3);
        let samples = [
            (100, false),
            (106, false),
            (112, false),
            (118, false),
            (124, false),
        ];
        assert_eq!(
            ticks(&mut settle, &samples),
            [false, false, false, false, false]
        );
    }

    #[test]
    fn client_progress_keeps_it_unsettled() {
        let mut settle = Settle::new(10, 2);
        let samples = [
            (100, false),
            (100, true),
            (100, true),
            (100, false),
            (100, false),
        ];
        assert_eq!(
            ticks(&mut settle, &samples),
            [false, false, false, false, true]
        );
    }
}
