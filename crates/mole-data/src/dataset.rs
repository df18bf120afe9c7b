//! The in-memory dataset: a dense f32 feature matrix, one integer label per sample, and the
//! shape of one sample (a vector or an image). Graph datasets live in [`crate::graph`].

/// Shape of one sample's features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleShape {
    /// A flat feature vector of this length.
    Vector(usize),
    /// An image with `channels × height × width` values, stored channel-major (CHW).
    Image {
        /// Number of channels (1 for grey, 3 for RGB).
        channels: usize,
        /// Height in pixels.
        height: usize,
        /// Width in pixels.
        width: usize,
    },
}

impl SampleShape {
    /// Number of f32 values in one sample.
    pub fn len(&self) -> usize {
        match *self {
            SampleShape::Vector(d) => d,
            SampleShape::Image {
                channels,
                height,
                width,
            } => channels * height * width,
        }
    }

    /// True for a zero-length sample (never produced by the loaders).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same values seen as a flat vector.
    pub fn flattened(&self) -> SampleShape {
        SampleShape::Vector(self.len())
    }
}

impl std::fmt::Display for SampleShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SampleShape::Vector(d) => write!(f, "{d}"),
            SampleShape::Image {
                channels,
                height,
                width,
            } => write!(f, "{channels}x{height}x{width}"),
        }
    }
}

/// Samples with labels: `features` is row-major `[len, shape.len()]`.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Row-major features, `len() * shape.len()` values.
    pub features: Vec<f32>,
    /// One class index per sample, each `< num_classes`.
    pub labels: Vec<usize>,
    /// Shape of one sample.
    pub shape: SampleShape,
    /// Number of classes (labels are `0..num_classes`).
    pub num_classes: usize,
}

impl Dataset {
    /// Builds a dataset, checking that the buffer sizes agree.
    pub fn new(
        features: Vec<f32>,
        labels: Vec<usize>,
        shape: SampleShape,
        num_classes: usize,
    ) -> Self {
        assert_eq!(
            features.len(),
            labels.len() * shape.len(),
            "features/labels size mismatch"
        );
        debug_assert!(labels.iter().all(|&l| l < num_classes));
        Dataset {
            features,
            labels,
            shape,
            num_classes,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Features of sample `i`.
    pub fn sample(&self, i: usize) -> &[f32] {
        let d = self.shape.len();
        &self.features[i * d..(i + 1) * d]
    }

    /// A new dataset made of the samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let d = self.shape.len();
        let mut features = Vec::with_capacity(indices.len() * d);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            features.extend_from_slice(self.sample(i));
            labels.push(self.labels[i]);
        }
        Dataset {
            features,
            labels,
            shape: self.shape,
            num_classes: self.num_classes,
        }
    }

    /// Number of samples of each class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &l in &self.labels {
            counts[l] += 1;
        }
        counts
    }

    /// The same samples with their features seen as flat vectors.
    pub fn flattened(mut self) -> Dataset {
        self.shape = self.shape.flattened();
        self
    }
}

/// A train/test pair, optionally with validation rows carved from the training data.
/// `train` is what local objectives and the head learn from; `val` picks the head's epoch;
/// `test` is only ever used for evaluation, never for a choice.
#[derive(Clone, Debug)]
pub struct Split {
    /// Training samples.
    pub train: Dataset,
    /// Held-out test samples.
    pub test: Dataset,
    /// Validation samples (disjoint from `train`), when a fraction was held out.
    pub val: Option<Dataset>,
}
