//! Spectral initialisation of Dawid-Skene (Zhang, Chen, Zhou & Jordan,
//! "Spectral Methods Meet EM", JMLR 2016, algorithm 1): workers are split
//! into three groups; the moments of the groups' averaged answers, made
//! symmetric, are decomposed by the robust tensor power method into each
//! group's confusion columns and the class priors; every worker's table
//! then follows from its answers against another group's. EM starts from
//! those tables instead of from majority vote.

use crate::engine::pack::Packed;

/// Classes above this make the `K³` moments too costly for a start.
pub const MAX_SPECTRAL_CLASSES: usize = 32;
/// Random starts and rounds of the tensor power method.
const STARTS: usize = 20;
const ROUNDS: usize = 60;
/// Smallest probability a spectral table keeps, before renormalising.
const FLOOR: f64 = 1e-4;

/// A `K × K` matrix, row-major.
type Matrix = Vec<f64>;

fn mat_mul(a: &[f64], b: &[f64], k: usize) -> Matrix {
    let mut out = vec![0f64; k * k];
    for i in 0..k {
        for l in 0..k {
            let x = a[i * k + l];
            for j in 0..k {
                out[i * k + j] += x * b[l * k + j];
            }
        }
    }
    out
}

fn mat_vec(a: &[f64], v: &[f64], k: usize) -> Vec<f64> {
    (0..k)
        .map(|i| (0..k).map(|j| a[i * k + j] * v[j]).sum())
        .collect()
}

fn transpose(a: &[f64], k: usize) -> Matrix {
    let mut out = vec![0f64; k * k];
    for i in 0..k {
        for j in 0..k {
            out[j * k + i] = a[i * k + j];
        }
    }
    out
}

/// Gauss-Jordan inverse with partial pivoting; `None` when (nearly)
/// singular.
fn inverse(a: &[f64], k: usize) -> Option<Matrix> {
    let mut m = a.to_vec();
    let mut inv: Matrix = (0..k * k)
        .map(|x| if x / k == x % k { 1.0 } else { 0.0 })
        .collect();
    let scale = a.iter().fold(0f64, |s, x| s.max(x.abs()));
    for col in 0..k {
        let pivot =
            (col..k).max_by(|&x, &y| m[x * k + col].abs().total_cmp(&m[y * k + col].abs()))?;
        if m[pivot * k + col].abs() <= 1e-12 * scale.max(f64::MIN_POSITIVE) {
            return None;
        }
        for j in 0..k {
            m.swap(col * k + j, pivot * k + j);
            inv.swap(col * k + j, pivot * k + j);
        }
        let p = m[col * k + col];
        for j in 0..k {
            m[col * k + j] /= p;
            inv[col * k + j] /= p;
        }
        for row in 0..k {
            if row != col {
                let f = m[row * k + col];
                if f != 0.0 {
                    for j in 0..k {
                        m[row * k + j] -= f * m[col * k + j];
                        inv[row * k + j] -= f * inv[col * k + j];
                    }
                }
            }
        }
    }
    Some(inv)
}

/// Eigenvalues and eigenvectors (columns) of a symmetric matrix, by cyclic
/// Jacobi rotations.
fn symmetric_eigen(a: &[f64], k: usize) -> (Vec<f64>, Matrix) {
    let mut m = a.to_vec();
    let mut v: Matrix = (0..k * k)
        .map(|x| if x / k == x % k { 1.0 } else { 0.0 })
        .collect();
    for _ in 0..100 {
        let off: f64 = (0..k)
            .flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * k + j] * m[i * k + j])
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..k {
            for q in p + 1..k {
                let apq = m[p * k + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (m[q * k + q] - m[p * k + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..k {
                    let (mrp, mrq) = (m[r * k + p], m[r * k + q]);
                    m[r * k + p] = c * mrp - s * mrq;
                    m[r * k + q] = s * mrp + c * mrq;
                }
                for r in 0..k {
                    let (mpr, mqr) = (m[p * k + r], m[q * k + r]);
                    m[p * k + r] = c * mpr - s * mqr;
                    m[q * k + r] = s * mpr + c * mqr;
                }
                for r in 0..k {
                    let (vrp, vrq) = (v[r * k + p], v[r * k + q]);
                    v[r * k + p] = c * vrp - s * vrq;
                    v[r * k + q] = s * vrp + c * vrq;
                }
            }
        }
    }
    ((0..k).map(|i| m[i * k + i]).collect(), v)
}

/// Each item's average one-hot answer over the workers of each group:
/// `[group][item][class]`.
fn group_answers(data: &Packed, group_of: &[usize], sizes: [usize; 3]) -> [Vec<f64>; 3] {
    let k = data.n_classes();
    let mut z = [
        vec![0f64; data.n_items() * k],
        vec![0f64; data.n_items() * k],
        vec![0f64; data.n_items() * k],
    ];
    for i in 0..data.n_items() {
        for a in data.item_range(i) {
            let g = group_of[data.item_worker[a] as usize];
            z[g][i * k + data.item_label[a] as usize] += 1.0 / sizes[g] as f64;
        }
    }
    z
}

/// `(1/n) Σ_j x_j y_jᵀ`.
fn second_moment(x: &[f64], y: &[f64], k: usize) -> Matrix {
    let n = x.len() / k;
    let mut m = vec![0f64; k * k];
    for j in 0..n {
        for p in 0..k {
            let xp = x[j * k + p];
            if xp != 0.0 {
                for q in 0..k {
                    m[p * k + q] += xp * y[j * k + q];
                }
            }
        }
    }
    m.iter_mut().for_each(|v| *v /= n.max(1) as f64);
    m
}

/// Rows `x_j` mapped to `a·x_j`.
fn map_rows(a: &[f64], x: &[f64], k: usize) -> Vec<f64> {
    x.chunks(k).flat_map(|row| mat_vec(a, row, k)).collect()
}

/// `T(I, v, v)` of a `K³` tensor.
fn contract(t: &[f64], v: &[f64], k: usize) -> Vec<f64> {
    (0..k)
        .map(|p| {
            let mut s = 0.0;
            for q in 0..k {
                for r in 0..k {
                    s += t[(p * k + q) * k + r] * v[q] * v[r];
                }
            }
            s
        })
        .collect()
}

fn normalise(v: &mut [f64]) -> f64 {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    n
}

/// Group `c`'s confusion columns `μ_h` (not normalised) and the class
/// weights, in the order the tensor power method finds them.
fn group_components(z: &[Vec<f64>; 3], c: usize, k: usize) -> Option<(Vec<Vec<f64>>, Vec<f64>)> {
    let (a, b) = ((c + 1) % 3, (c + 2) % 3);
    let m = |x: usize, y: usize| second_moment(&z[x], &z[y], k);
    // Bring groups a and b into c's view.
    let to_c_from_a = mat_mul(&m(c, b), &inverse(&m(a, b), k)?, k);
    let to_c_from_b = mat_mul(&m(c, a), &inverse(&m(b, a), k)?, k);
    let za = map_rows(&to_c_from_a, &z[a], k);
    let zb = map_rows(&to_c_from_b, &z[b], k);
    let m2 = second_moment(&za, &zb, k);
    let m2: Matrix = (0..k * k)
        .map(|x| 0.5 * (m2[x] + m2[(x % k) * k + x / k]))
        .collect();
    let (values, vectors) = symmetric_eigen(&m2, k);
    if values.iter().any(|&v| v <= 0.0) {
        return None;
    }
    // Whitening Q = U Λ^{-1/2}: Qᵀ M2 Q = I.
    let q: Matrix = (0..k * k)
        .map(|x| vectors[x] / values[x % k].sqrt())
        .collect();
    let n = z[c].len() / k;
    let mut t = vec![0f64; k * k * k];
    for j in 0..n {
        let wa: Vec<f64> = mat_vec(&transpose(&q, k), &za[j * k..(j + 1) * k], k);
        let wb: Vec<f64> = mat_vec(&transpose(&q, k), &zb[j * k..(j + 1) * k], k);
        let wc: Vec<f64> = mat_vec(&transpose(&q, k), &z[c][j * k..(j + 1) * k], k);
        for p in 0..k {
            for r in 0..k {
                let x = wa[p] * wb[r];
                for s in 0..k {
                    t[(p * k + r) * k + s] += x * wc[s] / n as f64;
                }
            }
        }
    }
    // Symmetrise: the view maps make the three modes agree in expectation.
    let mut sym = vec![0f64; k * k * k];
    for p in 0..k {
        for r in 0..k {
            for s in 0..k {
                let at = |x: usize, y: usize, w: usize| t[(x * k + y) * k + w];
                sym[(p * k + r) * k + s] = (at(p, r, s)
                    + at(p, s, r)
                    + at(r, p, s)
                    + at(r, s, p)
                    + at(s, p, r)
                    + at(s, r, p))
                    / 6.0;
            }
        }
    }
    let mut rng = super::numpy_random::NumpyRandom::new(c as u32);
    let mut columns = Vec::with_capacity(k);
    let mut weights = Vec::with_capacity(k);
    for _ in 0..k {
        let mut best: Option<(f64, Vec<f64>)> = None;
        for _ in 0..STARTS {
            let mut v: Vec<f64> = (0..k).map(|_| rng.normal(0.0, 1.0)).collect();
            normalise(&mut v);
            for _ in 0..ROUNDS {
                v = contract(&sym, &v, k);
                if normalise(&mut v) == 0.0 {
                    break;
                }
            }
            let lambda: f64 = contract(&sym, &v, k)
                .iter()
                .zip(&v)
                .map(|(a, b)| a * b)
                .sum();
            if best.as_ref().is_none_or(|(l, _)| lambda > *l) {
                best = Some((lambda, v));
            }
        }
        let (lambda, mut v) = best?;
        for _ in 0..ROUNDS {
            v = contract(&sym, &v, k);
            normalise(&mut v);
        }
        if !(lambda.is_finite() && lambda > 0.0) {
            return None;
        }
        // Deflate.
        for p in 0..k {
            for r in 0..k {
                for s in 0..k {
                    sym[(p * k + r) * k + s] -= lambda * v[p] * v[r] * v[s];
                }
            }
        }
        // μ = λ · U Λ^{1/2} v; weight 1/λ².
        let unwhitened: Vec<f64> = (0..k)
            .map(|x| {
                (0..k)
                    .map(|y| vectors[x * k + y] * values[y].sqrt() * v[y])
                    .sum::<f64>()
                    * lambda
            })
            .collect();
        columns.push(unwhitened);
        weights.push(1.0 / (lambda * lambda));
    }
    Some((columns, weights))
}

/// Orders components so that component `h` is class `h`: each goes to the
/// class its column gives most weight, greedily by that weight.
fn align(columns: Vec<Vec<f64>>, weights: Vec<f64>, k: usize) -> Option<(Matrix, Vec<f64>)> {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (h, col) in columns.iter().enumerate() {
        let total: f64 = col.iter().map(|x| x.max(0.0)).sum();
        if total <= 0.0 {
            return None;
        }
        for (class, &x) in col.iter().enumerate() {
            pairs.push((x.max(0.0) / total, h, class));
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut class_of = vec![usize::MAX; k];
    let mut taken = vec![false; k];
    for (_, h, class) in pairs {
        if class_of[h] == usize::MAX && !taken[class] {
            class_of[h] = class;
            taken[class] = true;
        }
    }
    // Columns of C: C[given][true].
    let mut c = vec![0f64; k * k];
    let mut w = vec![0f64; k];
    for (h, col) in columns.iter().enumerate() {
        for (l, &x) in col.iter().enumerate() {
            c[l * k + class_of[h]] = x;
        }
        w[class_of[h]] = weights[h];
    }
    Some((c, w))
}

/// Log class priors and log-confusion tables `[worker][given][true]` from
/// the spectral method; `None` when the moments are singular or the data
/// too small (then EM starts from majority vote).
pub fn spectral_start(data: &Packed) -> Option<(Vec<f32>, Vec<f32>)> {
    let k = data.n_classes();
    let n_workers = data.n_workers();
    if !(2..=MAX_SPECTRAL_CLASSES).contains(&k) || n_workers < 3 || data.n_items() < 3 * k {
        return None;
    }
    // Workers dealt round-robin by annotation count, so the groups see
    // similar amounts of data.
    let mut by_load: Vec<usize> = (0..n_workers).collect();
    by_load.sort_by_key(|&w| std::cmp::Reverse(data.worker_range(w).len()));
    let mut group_of = vec![0usize; n_workers];
    let mut sizes = [0usize; 3];
    for (rank, &w) in by_load.iter().enumerate() {
        group_of[w] = rank % 3;
        sizes[rank % 3] += 1;
    }
    let z = group_answers(data, &group_of, sizes);
    let mut group_tables = Vec::with_capacity(3);
    for c in 0..3 {
        let (columns, weights) = group_components(&z, c, k)?;
        group_tables.push(align(columns, weights, k)?);
    }
    // Class priors: the mean of the three groups' weights.
    let mut priors: Vec<f64> = (0..k)
        .map(|h| group_tables.iter().map(|(_, w)| w[h]).sum::<f64>() / 3.0)
        .collect();
    let total: f64 = priors.iter().sum();
    priors.iter_mut().for_each(|p| *p = (*p / total).max(FLOOR));
    let total: f64 = priors.iter().sum();
    let log_priors = priors.iter().map(|p| (p / total).ln() as f32).collect();

    // Worker i in group g, against group a = g + 1:
    // E[z_i z_aᵀ] = C_i W C_aᵀ, so C_i = M_ia (W C_aᵀ)⁻¹.
    let mut projections = Vec::with_capacity(3);
    for (c_a, w_a) in &group_tables {
        let wct: Matrix = (0..k * k)
            .map(|x| w_a[x / k] * c_a[(x % k) * k + x / k])
            .collect();
        projections.push(inverse(&wct, k)?);
    }
    let n = data.n_items() as f64;
    let mut log_confusion = vec![0f32; n_workers * k * k];
    for w in 0..n_workers {
        let a = (group_of[w] + 1) % 3;
        let mut m = vec![0f64; k * k];
        for (&i, &l) in data.worker_item[data.worker_range(w)]
            .iter()
            .zip(&data.worker_label[data.worker_range(w)])
        {
            for q in 0..k {
                m[l as usize * k + q] += z[a][i as usize * k + q] / n;
            }
        }
        // C_i[given][true], columns normalised after clipping.
        let ci = mat_mul(&m, &projections[a], k);
        for t in 0..k {
            let col: Vec<f64> = (0..k).map(|l| ci[l * k + t].max(0.0) + FLOOR).collect();
            let sum: f64 = col.iter().sum();
            for (l, x) in col.iter().enumerate() {
                log_confusion[(w * k + l) * k + t] = (x / sum).ln() as f32;
            }
        }
    }
    Some((log_priors, log_confusion))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_and_eigen_decomposition_reconstruct_their_matrix() {
        let a = vec![4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let inv = inverse(&a, 3).unwrap();
        let identity = mat_mul(&a, &inv, 3);
        for (x, v) in identity.iter().enumerate() {
            let expected = if x / 3 == x % 3 { 1.0 } else { 0.0 };
            assert!((v - expected).abs() < 1e-12, "{identity:?}");
        }
        let (values, vectors) = symmetric_eigen(&a, 3);
        // A = V Λ Vᵀ.
        for i in 0..3 {
            for j in 0..3 {
                let back: f64 = (0..3)
                    .map(|h| vectors[i * 3 + h] * values[h] * vectors[j * 3 + h])
                    .sum();
                assert!((back - a[i * 3 + j]).abs() < 1e-10);
            }
        }
        assert!(inverse(&[1.0, 2.0, 2.0, 4.0], 2).is_none(), "singular");
    }
}
