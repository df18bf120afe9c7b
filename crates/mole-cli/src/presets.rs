//! Shipped recipes: every row of the README's results tables as a config file in `configs/`,
//! embedded in the binary so that `mole train --preset NAME` works from anywhere.

use mole_train::config::ConfigError;

macro_rules! preset {
    ($name:literal, $what:literal) => {
        (
            $name,
            $what,
            include_str!(concat!("../../../configs/", $name, ".toml")),
        )
    };
}

/// `(name, what it reproduces, the TOML text)` of every file in `configs/`.
pub const PRESETS: &[(&str, &str, &str)] = &[
    preset!("digits-mole", "digits, MOLE (the default job)"),
    preset!("digits-bp", "digits, backprop"),
    preset!("digits-hsic", "digits, HSIC bottleneck"),
    preset!("iris-bp", "iris, backprop"),
    preset!("iris-mole", "iris, MOLE"),
    preset!("iris-hsic", "iris, HSIC bottleneck"),
    preset!("wine-bp", "wine, backprop"),
    preset!("wine-mole", "wine, MOLE"),
    preset!("wine-hsic", "wine, HSIC bottleneck"),
    preset!("breast-cancer-bp", "breast cancer (Wisconsin), backprop"),
    preset!("breast-cancer-mole", "breast cancer (Wisconsin), MOLE"),
    preset!(
        "breast-cancer-hsic",
        "breast cancer (Wisconsin), HSIC bottleneck"
    ),
    preset!("mnist-mlp-bp", "MNIST, mlp:256,256,256, backprop"),
    preset!("mnist-mlp-mole", "MNIST, mlp:256,256,256, MOLE"),
    preset!("mnist-mlp-hsic", "MNIST, mlp:256,256,256, HSIC bottleneck"),
    preset!(
        "mnist-mlp-mole-layerwise",
        "MNIST, one layer per MOLE module, α = 0.5"
    ),
    preset!("mnist-cnn-bp", "MNIST, cnn:16,32, backprop"),
    preset!(
        "mnist-cnn-mole",
        "MNIST, conv(32),conv(64),dense(256), MOLE"
    ),
    preset!("fashion-cnn-bp", "Fashion-MNIST, cnn:32,64, backprop"),
    preset!(
        "fashion-cnn-mole",
        "Fashion-MNIST, conv(32),conv(64),dense(512), MOLE"
    ),
    preset!(
        "fashion-cnn-hsic",
        "Fashion-MNIST, conv(32),conv(64),dense(512), HSIC + format"
    ),
    preset!("cora-bp", "Cora, Kipf & Welling's GCN, backprop"),
    preset!("cora-mole", "Cora, gcn:64 + GCN head, MOLE"),
    preset!("cora-hsic", "Cora, gcn:64 + GCN head, HSIC bottleneck"),
    preset!("mutag-bp", "MUTAG, gin:64,64, backprop, 10-fold"),
    preset!("mutag-mole", "MUTAG, gin:64,64, MOLE, 10-fold"),
    preset!("mutag-hsic", "MUTAG, gin:64,64, HSIC bottleneck, 10-fold"),
];

/// The TOML text of preset `name`, or an error listing the presets.
pub fn text(name: &str) -> Result<&'static str, ConfigError> {
    PRESETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, t)| *t)
        .ok_or_else(|| {
            ConfigError::Invalid(format!(
                "--preset {name}: no such preset (mole train --list-presets lists {})",
                PRESETS.len()
            ))
        })
}

/// Prints every preset with what it reproduces.
pub fn print_list() {
    let width = PRESETS.iter().map(|(n, _, _)| n.len()).max().unwrap_or(0);
    for (name, what, _) in PRESETS {
        println!("{name:width$}  {what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_configs_is_a_preset_and_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let p = e.ok()?.path();
                (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(String::from))?
            })
            .collect();
        files.sort();
        let mut names: Vec<String> = PRESETS.iter().map(|(n, _, _)| n.to_string()).collect();
        names.sort();
        assert_eq!(
            files, names,
            "configs/ and PRESETS must list the same recipes"
        );
        for (name, _, text) in PRESETS {
            let c = mole_train::TrainConfig::from_toml(text)
                .unwrap_or_else(|e| panic!("preset {name}: {e}"));
            c.validate()
                .unwrap_or_else(|e| panic!("preset {name}: {e}"));
        }
        assert!(
            text("no-such")
                .unwrap_err()
                .to_string()
                .contains("--list-presets")
        );
    }
}
