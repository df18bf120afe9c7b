//! Mutations of an input: byte-level (bit flips, interesting integers, inserts, deletions,
//! copies, splices with another corpus entry) and text-aware (numbers rewritten to edge values,
//! lines duplicated, dropped or swapped, tokens from the harness's dictionary).

use rand::Rng;
use rand::rngs::StdRng;

/// Textual numbers at the edges of what parsers get wrong.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "255",
    "256",
    "-2147483648",
    "2147483647",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "99999999999999999999",
    "1e308",
    "1e309",
    "-1e309",
    "1e-320",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "0.5",
    "",
    " ",
    "+",
    "1.",
    ".",
    "0x10",
];

/// Bytes and big/little-endian integers at the edges of binary headers.
const INTEGERS: &[u32] = &[
    0,
    1,
    2,
    3,
    4,
    8,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0xffff,
    0x10000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    60000,
    784,
    3073,
    1_000_000_000,
];

/// Applies one to four random mutations to a copy of `input`, keeping it at most `max_len`
/// bytes. `other` is another corpus entry to splice from; `dictionary` holds the harness's
/// tokens (keys, separators, magic values).
pub fn mutate(
    rng: &mut StdRng,
    input: &[u8],
    other: &[u8],
    dictionary: &[&[u8]],
    max_len: usize,
) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        mutate_once(rng, &mut v, other, dictionary);
    }
    v.truncate(max_len);
    v
}

fn pos(rng: &mut StdRng, len: usize) -> usize {
    if len == 0 {
        0
    } else {
        rng.random_range(0..len)
    }
}

fn mutate_once(rng: &mut StdRng, v: &mut Vec<u8>, other: &[u8], dictionary: &[&[u8]]) {
    let len = v.len();
    match rng.random_range(0..13) {
        0 if len > 0 => {
            let i = pos(rng, len);
            v[i] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let i = pos(rng, len);
            v[i] = rng.random();
        }
        2 if len > 0 => {
            // An interesting integer, 1, 2 or 4 bytes, either byte order.
            let x = INTEGERS[rng.random_range(0..INTEGERS.len())];
            let width = [1, 2, 4][rng.random_range(0..3)];
            let bytes = if rng.random() {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            };
            let bytes: Vec<u8> = if bytes[0] == 0 && width < 4 && x.to_be_bytes() == bytes {
                bytes[4 - width..].to_vec()
            } else {
                bytes[..width].to_vec()
            };
            let i = pos(rng, len);
            for (k, b) in bytes.iter().enumerate() {
                if i + k < v.len() {
                    v[i + k] = *b;
                }
            }
        }
        3 => {
            let i = pos(rng, len + 1);
            let n = rng.random_range(1..=8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            v.splice(i..i, bytes);
        }
        4 if len > 0 => {
            let i = pos(rng, len);
            let n = rng.random_range(1..=(len - i).min(64));
            v.drain(i..i + n);
        }
        5 if len > 0 => {
            // Copy a chunk elsewhere (repeats records, lines, header fields).
            let i = pos(rng, len);
            let n = rng.random_range(1..=(len - i).min(256));
            let chunk = v[i..i + n].to_vec();
            let at = pos(rng, len + 1);
            v.splice(at..at, chunk);
        }
        6 if !other.is_empty() => {
            let i = pos(rng, other.len());
            let n = rng.random_range(1..=(other.len() - i).min(256));
            let at = pos(rng, len + 1);
            if rng.random() {
                let end = (at + n).min(len);
                v.splice(at..end, other[i..i + n].iter().copied());
            } else {
                v.splice(at..at, other[i..i + n].iter().copied());
            }
        }
        7 if !dictionary.is_empty() => {
            let token = dictionary[rng.random_range(0..dictionary.len())];
            let at = pos(rng, len + 1);
            v.splice(at..at, token.iter().copied());
        }
        8 => rewrite_number(rng, v),
        9 if len > 0 => {
            let at = pos(rng, len);
            v.truncate(at);
        }
        10 => line_edit(rng, v),
        11 if !dictionary.is_empty() && len > 0 => {
            // Overwrite with a token.
            let token = dictionary[rng.random_range(0..dictionary.len())];
            let at = pos(rng, len);
            let end = (at + token.len()).min(len);
            v.splice(at..end, token.iter().copied());
        }
        _ => {
            // An arithmetic nudge of one byte.
            if len > 0 {
                let i = pos(rng, len);
                v[i] = v[i].wrapping_add(rng.random_range(1..=35u8).wrapping_sub(18));
            }
        }
    }
}

/// Replaces a run of digits (with its sign, point and exponent) by an edge value.
fn rewrite_number(rng: &mut StdRng, v: &mut Vec<u8>) {
    let starts: Vec<usize> = (0..v.len())
        .filter(|&i| v[i].is_ascii_digit() && (i == 0 || !v[i - 1].is_ascii_digit()))
        .collect();
    if starts.is_empty() {
        return;
    }
    let start = starts[rng.random_range(0..starts.len())];
    let mut end = start;
    while end < v.len() && (v[end].is_ascii_digit() || b".eE+-".contains(&v[end])) {
        end += 1;
    }
    let n = NUMBERS[rng.random_range(0..NUMBERS.len())];
    v.splice(start..end, n.bytes());
}

/// Duplicates, drops or swaps whole lines.
fn line_edit(rng: &mut StdRng, v: &mut Vec<u8>) {
    let mut lines: Vec<Vec<u8>> = v.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if lines.len() < 2 {
        return;
    }
    let i = rng.random_range(0..lines.len());
    let j = rng.random_range(0..lines.len());
    match rng.random_range(0..3) {
        0 => {
            let l = lines[i].clone();
            lines.insert(j, l);
        }
        1 => {
            lines.remove(i);
        }
        _ => lines.swap(i, j),
    }
    *v = lines.join(&b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn mutations_change_inputs_and_respect_the_length_cap() {
        let mut rng = StdRng::seed_from_u64(1);
        let input = b"1,2,3,0\n4,5,6,1\n".to_vec();
        let mut changed = 0;
        for _ in 0..500 {
            let m = mutate(&mut rng, &input, b"7,8", &[b"nan"], 24);
            assert!(m.len() <= 24);
            changed += usize::from(m != input);
        }
        assert!(changed > 450, "only {changed} of 500 mutants differ");
    }

    #[test]
    fn numbers_are_rewritten_whole() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut v = b"a,12.5e3,b".to_vec();
        rewrite_number(&mut rng, &mut v);
        let s = String::from_utf8_lossy(&v).into_owned();
        assert!(s.starts_with("a,") && s.ends_with(",b"), "{s}");
        assert!(!s.contains("12.5e3"), "{s}");
    }
}
