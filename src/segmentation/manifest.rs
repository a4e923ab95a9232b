//! A JSON Lines manifest of PNG masks as a [`MaskSource`]: opened, its
//! lines are checked and grouped by image and every mask is decoded once,
//! to check it and learn the classes, keeping nothing but sizes; a fit then
//! decodes the masks again batch by batch. When the whole run fits the
//! memory budget, the first decode is kept instead, as one batch.

use std::borrow::Cow;
use std::io::BufRead;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;

use super::png_mask::{decode_mask, ColourMap};
use super::read::{allowed_roots, bad, colour_map, confine, field, png_size, MaskPaths, SegInput};
use super::source::MaskSource;
use crate::engine::pack::masks::{MaskBatch, MAX_SEGMENTATION_CLASSES};
use crate::engine::pack::{Interner, Names};
use crate::error::{Error, Location, Result};
use crate::io::ground_truth::id_text;
use crate::io::Rejects;

/// A parsed line: image, worker, mask path, colour map.
type ParsedLine = (String, String, String, Option<ColourMap>);

/// No colour map on a line.
const NO_MAP: u32 = u32::MAX;

/// An opened, checked manifest of masks (see the module docs).
#[derive(Debug)]
pub struct MaskManifest {
    path: PathBuf,
    folder: PathBuf,
    max_pixels: u64,
    class_names: Vec<String>,
    colours: Option<ColourMap>,
    worker_names: Names,
    image_names: Names,
    /// Per image: width, height, good masks.
    sizes: Vec<(u32, u32, u32)>,
    /// Per image: its first mask's index among the good masks.
    first_mask: Vec<u64>,
    /// Good masks in run order (images in first-seen order, an image's
    /// masks in input order): their line.
    mask_line: Vec<u32>,
    /// Per parsed line: 1-based line number, mask path as written, worker,
    /// colour map (an index into `maps`, or [`NO_MAP`]).
    line_no: Vec<u64>,
    line_mask: Names,
    line_worker: Vec<u32>,
    line_map: Vec<u32>,
    /// Distinct colour maps, each with its class ids in the run's classes.
    maps: Vec<(ColourMap, Vec<u8>)>,
    /// The whole run decoded, when it fits the budget.
    resident: Option<MaskBatch>,
    /// Decoded bytes of all masks (one per pixel).
    mask_bytes: u64,
}

/// What the check pass learnt of one line's mask.
struct Checked {
    width: u32,
    height: u32,
    top: u8,
    pixels: Option<Vec<u8>>,
}

impl MaskManifest {
    /// Opens `path` (see [`super::read::read_mask_manifest`] for the
    /// format and the folders masks may lie in): parses every line, reads
    /// every mask's PNG header, decodes every mask once to check it (bad
    /// lines and masks to `rejects`, in line order), and keeps the decoded
    /// masks when all of them, twice over, and the consensus fit in
    /// `keep_budget` bytes. `categories` fixes the classes and their order.
    pub fn open(
        path: &Path,
        categories: Option<&[String]>,
        max_pixels: u64,
        paths: &MaskPaths,
        keep_budget: u64,
        rejects: &mut Rejects,
    ) -> Result<MaskManifest> {
        let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let roots = allowed_roots(&folder, &paths.allowed_outside);
        let output_folder = paths
            .output_folder
            .as_deref()
            .and_then(crate::io::file_identity);
        let mut manifest = MaskManifest {
            path: path.into(),
            folder: folder.clone(),
            max_pixels,
            class_names: Vec::new(),
            colours: None,
            worker_names: Names::default(),
            image_names: Names::default(),
            sizes: Vec::new(),
            first_mask: Vec::new(),
            mask_line: Vec::new(),
            line_no: Vec::new(),
            line_mask: Names::default(),
            line_worker: Vec::new(),
            line_map: Vec::new(),
            maps: Vec::new(),
            resident: None,
            mask_bytes: 0,
        };
        let mut workers = Interner::default();
        let mut line_image: Vec<u32> = Vec::new();
        let mut images = Interner::default();
        let reader = std::io::BufReader::with_capacity(1 << 20, file);
        for (n, raw_line) in reader.split(b'\n').enumerate() {
            let raw_line = raw_line.map_err(|e| Error::read(path, e))?;
            let raw_line = if n == 0 {
                raw_line
                    .strip_prefix(b"\xEF\xBB\xBF")
                    .map(<[u8]>::to_vec)
                    .unwrap_or(raw_line)
            } else {
                raw_line
            };
            let location = Location::Line(n as u64 + 1);
            let parse = || -> Result<Option<ParsedLine>> {
                let line = std::str::from_utf8(&raw_line).map_err(|e| {
                    bad(
                        path,
                        &location,
                        format!("not valid UTF-8 (bad byte at offset {})", e.valid_up_to()),
                    )
                })?;
                let line = line.strip_suffix('\r').unwrap_or(line);
                if line.trim().is_empty() {
                    return Ok(None);
                }
                let object: Value = crate::io::ground_truth::parse_json_strict(line)
                    .map_err(|e| bad(path, &location, format!("invalid JSON: {e}")))?;
                let text_of = |keys: &[&str], what: &str| {
                    field(&object, keys).and_then(id_text).ok_or_else(|| {
                        bad(
                            path,
                            &location,
                            format!("missing {what} (one of {keys:?}, a string)"),
                        )
                    })
                };
                let image = text_of(&["image", "image-id", "source-ref"], "the image id")?;
                let worker = text_of(&["worker", "worker-id", "workerId"], "the worker id")?;
                let mask = text_of(&["mask", "mask-ref"], "the mask's path")?;
                let colours = colour_map(&object).map_err(|p| bad(path, &location, p))?;
                let mask_path = folder.join(&mask);
                confine(&mask_path, &roots).map_err(|p| bad(path, &location, p))?;
                if let (Some(out), Some(m)) = (&output_folder, crate::io::file_identity(&mask_path))
                {
                    if m.starts_with(out) {
                        return Err(bad(
                            path,
                            &location,
                            format!(
                                "mask {} lies in the output folder, which the run would overwrite: choose another folder",
                                mask_path.display()
                            ),
                        ));
                    }
                }
                Ok(Some((image, worker, mask, colours)))
            };
            match parse() {
                Ok(Some((image, worker, mask, colours))) => {
                    manifest.line_no.push(n as u64 + 1);
                    manifest.line_mask.push(&mask);
                    manifest.line_worker.push(workers.intern(&worker));
                    line_image.push(images.intern(&image));
                    let map = match colours {
                        None => NO_MAP,
                        Some(c) => match manifest.maps.iter().position(|(m, _)| *m == c) {
                            Some(i) => i as u32,
                            None => {
                                manifest.maps.push((c, Vec::new()));
                                (manifest.maps.len() - 1) as u32
                            }
                        },
                    };
                    manifest.line_map.push(map);
                }
                Ok(None) => {}
                Err(e) => rejects.bad(e, &raw_line)?,
            }
        }
        let n_lines = manifest.line_no.len();
        // Headers first: the decoded size of the whole run says whether
        // the first decode can be kept.
        let headers: Vec<Option<(u32, u32)>> = (0..n_lines)
            .into_par_iter()
            .map(|l| manifest.read_header(l))
            .collect();
        let (decoded_bytes, pixels) =
            headers.iter().flatten().fold((0u64, 0u64), |acc, &(w, h)| {
                let p = (w as u64 * h as u64).min(max_pixels);
                (acc.0 + p, acc.1 + p)
            });
        // An image's masks are consolidated together, whatever the
        // budget: the largest must fit the machine (PNG bombs stop here,
        // before anything is decoded).
        let mut per_image = vec![(0u64, 0u32); images.len()];
        for (l, size) in headers.iter().enumerate() {
            if let Some((w, h)) = size {
                let entry = &mut per_image[line_image[l] as usize];
                entry.0 += (*w as u64 * *h as u64).min(max_pixels);
                entry.1 += 1;
            }
        }
        if let Some((image, &(bytes, masks))) =
            per_image.iter().enumerate().max_by_key(|(_, (b, _))| *b)
        {
            crate::engine::memory::check_fits(
                // The masks, and the consensus and read-back beside them.
                2 * bytes,
                crate::engine::memory::available_bytes(),
                &format!(
                    "the decoded masks of image {:?} ({masks} masks, {bytes} pixels in all)",
                    images.names().get(image)
                ),
                "use smaller masks or a machine with more memory",
            )?;
        }
        drop(per_image);
        // Kept masks, their copy into the batch, and the consensus.
        let keep = 2 * decoded_bytes + 17 * pixels <= keep_budget;
        let checked: Vec<Result<Checked>> = (0..n_lines)
            .into_par_iter()
            .map(|l| {
                let mask = manifest.decode(l)?;
                let top = mask.pixels.iter().copied().max().unwrap_or(0);
                Ok(Checked {
                    width: mask.width,
                    height: mask.height,
                    top,
                    pixels: keep.then_some(mask.pixels),
                })
            })
            .collect();
        drop(headers);
        manifest.settle(checked, line_image, images, workers, categories, rejects)?;
        Ok(manifest)
    }

    /// The line's mask file's PNG size, if its header can be read.
    fn read_header(&self, line: usize) -> Option<(u32, u32)> {
        use std::io::Read;
        let mut header = [0u8; 24];
        let path = self.mask_path(line);
        // Opening a FIFO would wait for a writer: regular files only (the
        // decode reports the others).
        if !std::fs::metadata(&path).ok()?.is_file() {
            return None;
        }
        let mut file = std::fs::File::open(path).ok()?;
        file.read_exact(&mut header).ok()?;
        png_size(&header)
    }

    fn mask_path(&self, line: usize) -> PathBuf {
        self.folder.join(self.line_mask.get(line))
    }

    fn location(&self, line: usize) -> Location {
        Location::Line(self.line_no[line])
    }

    /// Reads and decodes the mask of parsed line `line`, in its own
    /// colour map's class ids.
    fn decode(&self, line: usize) -> Result<super::png_mask::DecodedMask> {
        let mask_path = self.mask_path(line);
        let problem = |p: String| {
            bad(
                &self.path,
                &self.location(line),
                format!("mask {}: {p}", mask_path.display()),
            )
        };
        let metadata = std::fs::metadata(&mask_path).map_err(|e| problem(e.to_string()))?;
        if !metadata.is_file() {
            return Err(problem("not a regular file".into()));
        }
        let bytes = std::fs::read(&mask_path).map_err(|e| problem(e.to_string()))?;
        let map = self.line_map[line];
        let colours = (map != NO_MAP).then(|| &self.maps[map as usize].0);
        decode_mask(&bytes, colours, self.max_pixels).map_err(problem)
    }

    /// From the check pass: rejects in line order, the classes, the images
    /// and their good masks; the kept masks as one batch.
    fn settle(
        &mut self,
        checked: Vec<Result<Checked>>,
        line_image: Vec<u32>,
        images: Interner,
        workers: Interner,
        categories: Option<&[String]>,
        rejects: &mut Rejects,
    ) -> Result<()> {
        let path = self.path.clone();
        let mut good: Vec<(usize, Checked)> = Vec::with_capacity(checked.len());
        for (line, c) in checked.into_iter().enumerate() {
            match c {
                Ok(c) => good.push((line, c)),
                Err(e) => {
                    rejects.bad(e, self.record(line).as_bytes())?;
                }
            }
        }
        if good.is_empty() {
            return Err(bad(&path, &Location::File, "the input holds no mask"));
        }
        let with_maps = good
            .iter()
            .filter(|(l, _)| self.line_map[*l] != NO_MAP)
            .count();
        if with_maps > 0 && with_maps < good.len() {
            let (odd, _) = good
                .iter()
                .find(|(l, _)| self.line_map[*l] == NO_MAP)
                .expect("one without");
            return Err(bad(
                &path,
                &self.location(*odd),
                "this mask has no colour map but others have: give every mask one, or none",
            ));
        }
        self.unify_classes(&good, categories, with_maps > 0)?;
        let k = self.class_names.len();
        // Images and workers of the good masks, in first-seen order; a mask
        // of another size than its image's first, or (index masks) with a
        // class beyond the categories, is rejected.
        let image_names = images.into_names();
        let worker_names = workers.into_names();
        let mut image_id: Vec<u32> = vec![u32::MAX; image_names.len()];
        let (mut run_images, mut run_workers) = (Interner::default(), Interner::default());
        let mut worker_id: Vec<u32> = vec![u32::MAX; worker_names.len()];
        let mut sizes: Vec<(u32, u32, u32)> = Vec::new();
        let mut masks: Vec<(u32, usize, Option<Vec<u8>>)> = Vec::with_capacity(good.len());
        for (line, c) in good {
            let image = line_image[line] as usize;
            if with_maps == 0 && c.top as usize >= k {
                let e = bad(
                    &path,
                    &self.location(line),
                    format!(
                        "pixel class id {} is out of range: there are {k} classes",
                        c.top
                    ),
                );
                rejects.bad(e, self.record(line).as_bytes())?;
                continue;
            }
            if image_id[image] != u32::MAX {
                let (w, h, _) = sizes[image_id[image] as usize];
                if (w, h) != (c.width, c.height) {
                    let e = bad(
                        &path,
                        &self.location(line),
                        format!(
                            "mask of image {:?} by {:?} is {}×{}, but the image's other masks are {w}×{h}",
                            image_names.get(image),
                            worker_names.get(self.line_worker[line] as usize),
                            c.width,
                            c.height
                        ),
                    );
                    rejects.bad(e, self.record(line).as_bytes())?;
                    continue;
                }
            } else {
                image_id[image] = run_images.intern(image_names.get(image));
                sizes.push((c.width, c.height, 0));
            }
            let worker = self.line_worker[line] as usize;
            if worker_id[worker] == u32::MAX {
                worker_id[worker] = run_workers.intern(worker_names.get(worker));
            }
            sizes[image_id[image] as usize].2 += 1;
            masks.push((image_id[image], line, c.pixels));
        }
        // Run order: by image, an image's masks in line order.
        masks.sort_by_key(|(image, line, _)| (*image, *line));
        for l in 0..self.line_worker.len() {
            let w = self.line_worker[l] as usize;
            if worker_id[w] != u32::MAX {
                self.line_worker[l] = worker_id[w];
            }
        }
        self.image_names = run_images.into_names();
        self.worker_names = run_workers.into_names();
        self.first_mask = sizes
            .iter()
            .scan(0u64, |at, s| {
                let first = *at;
                *at += s.2 as u64;
                Some(first)
            })
            .collect();
        self.mask_bytes = sizes
            .iter()
            .map(|&(w, h, m)| w as u64 * h as u64 * m as u64)
            .sum();
        self.sizes = sizes;
        self.mask_line = masks.iter().map(|(_, l, _)| *l as u32).collect();
        if masks.iter().all(|(_, _, p)| p.is_some()) {
            let mut batch = self.laid_out(0..self.sizes.len());
            for (slot, (_, line, pixels)) in batch.masks_mut().into_iter().zip(masks) {
                self.remap_into(line, &pixels.expect("kept"), slot);
            }
            self.resident = Some(batch);
        }
        Ok(())
    }

    /// The rejects file's record of a line's mask.
    fn record(&self, line: usize) -> String {
        format!(
            "mask {} of line {}",
            self.line_mask.get(line),
            self.line_no[line]
        )
    }

    /// The run's classes: by name through the colour maps (the
    /// `categories`' order first), else the pixel values themselves.
    fn unify_classes(
        &mut self,
        good: &[(usize, Checked)],
        categories: Option<&[String]>,
        with_maps: bool,
    ) -> Result<()> {
        if !with_maps {
            let top = good.iter().map(|(_, c)| c.top).max().unwrap_or(0) as usize;
            self.class_names = match categories {
                Some(c) => c.to_vec(),
                None => (0..=top).map(|c| c.to_string()).collect(),
            };
            if self.class_names.is_empty() || self.class_names.len() > MAX_SEGMENTATION_CLASSES {
                return Err(Error::Limit(format!(
                    "{} segmentation classes; accord stores class ids in one byte, so 1 to {MAX_SEGMENTATION_CLASSES} are accepted",
                    self.class_names.len()
                )));
            }
            return Ok(());
        }
        let mut classes: Vec<(String, [u8; 3])> = Vec::new();
        let used: Vec<bool> = {
            let mut used = vec![false; self.maps.len()];
            for (l, _) in good {
                used[self.line_map[*l] as usize] = true;
            }
            used
        };
        if let Some(c) = categories {
            for name in c {
                let colour = self
                    .maps
                    .iter()
                    .zip(&used)
                    .filter(|(_, u)| **u)
                    .flat_map(|((m, _), _)| &m.classes)
                    .find(|(n, _)| n == name)
                    .map_or([0, 0, 0], |(_, col)| *col);
                classes.push((name.clone(), colour));
            }
        }
        for (l, _) in good {
            let map = &self.maps[self.line_map[*l] as usize].0;
            for (name, colour) in &map.classes {
                if !classes.iter().any(|(n, _)| n == name) {
                    if categories.is_some() {
                        return Err(bad(
                            &self.path,
                            &self.location(*l),
                            format!("class {name:?} is not one of `categories`"),
                        ));
                    }
                    classes.push((name.clone(), *colour));
                }
            }
        }
        if classes.len() > MAX_SEGMENTATION_CLASSES {
            return Err(Error::Limit(format!(
                "{} classes across the colour maps; at most {MAX_SEGMENTATION_CLASSES} are accepted",
                classes.len()
            )));
        }
        for (map, ids) in &mut self.maps {
            *ids = map
                .classes
                .iter()
                .map(|(n, _)| classes.iter().position(|(g, _)| g == n).unwrap_or(0) as u8)
                .collect();
        }
        self.class_names = classes.iter().map(|(n, _)| n.clone()).collect();
        self.colours = Some(ColourMap { classes });
        Ok(())
    }

    /// A batch for images `images`, its pixels not yet filled.
    fn laid_out(&self, images: Range<usize>) -> MaskBatch {
        let mut names = Names::default();
        for i in images.clone() {
            names.push(self.image_names.get(i));
        }
        let first = self.first_mask.get(images.start).copied().unwrap_or(0);
        let end = self
            .first_mask
            .get(images.end)
            .copied()
            .unwrap_or(self.mask_line.len() as u64);
        let mask_worker = self.mask_line[first as usize..end as usize]
            .iter()
            .map(|&l| self.line_worker[l as usize])
            .collect();
        MaskBatch::laid_out(
            names,
            self.worker_names.clone(),
            self.class_names.clone(),
            &self.sizes[images.clone()],
            mask_worker,
            (images.start as u64, first),
        )
    }

    /// Copies a line's decoded pixels into `slot` in the run's class ids.
    fn remap_into(&self, line: usize, pixels: &[u8], slot: &mut [u8]) {
        let map = self.line_map[line];
        if map == NO_MAP {
            slot.copy_from_slice(pixels);
        } else {
            let ids = &self.maps[map as usize].1;
            for (out, &p) in slot.iter_mut().zip(pixels) {
                *out = ids[p as usize];
            }
        }
    }

    /// The run's class colours, when the masks came with colour maps.
    pub fn colours(&self) -> Option<&ColourMap> {
        self.colours.as_ref()
    }

    /// Decoded bytes of all good masks (one per pixel).
    pub fn mask_bytes(&self) -> u64 {
        self.mask_bytes
    }

    /// The number of good masks.
    pub fn n_masks(&self) -> usize {
        self.mask_line.len()
    }

    /// Whether the check pass's decode was kept as one batch.
    pub fn is_resident(&self) -> bool {
        self.resident.is_some()
    }

    /// Everything as one batch, with the colours: the whole-input reader.
    pub fn into_input(mut self) -> Result<SegInput> {
        let batch = match self.resident.take() {
            Some(b) => b,
            None => self.load(0..self.sizes.len())?.into_owned(),
        };
        Ok(SegInput {
            batch,
            colours: self.colours,
            without_masks: Vec::new(),
        })
    }
}

impl MaskSource for MaskManifest {
    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn worker_names(&self) -> &Names {
        &self.worker_names
    }

    fn n_images(&self) -> usize {
        self.sizes.len()
    }

    fn image_size(&self, image: usize) -> (u32, u32, u32) {
        self.sizes[image]
    }

    fn load(&self, images: Range<usize>) -> Result<Cow<'_, MaskBatch>> {
        if let Some(all) = &self.resident {
            return all.load(images);
        }
        let mut batch = self.laid_out(images.clone());
        let first = self.first_mask.get(images.start).copied().unwrap_or(0) as usize;
        let lines = &self.mask_line[first..first + batch.mask_worker.len()];
        let sizes: Vec<(u32, u32)> = batch
            .images
            .iter()
            .flat_map(|s| std::iter::repeat_n((s.width, s.height), s.n_masks as usize))
            .collect();
        batch
            .masks_mut()
            .into_par_iter()
            .zip(lines.par_iter().zip(sizes.par_iter()))
            .try_for_each(|(slot, (&line, &(w, h)))| -> Result<()> {
                let line = line as usize;
                let mask = self.decode(line)?;
                if (mask.width, mask.height) != (w, h) {
                    return Err(bad(
                        &self.path,
                        &self.location(line),
                        format!(
                            "mask {} is now {}×{}, not the {w}×{h} it was when the manifest was opened",
                            self.mask_path(line).display(),
                            mask.width,
                            mask.height
                        ),
                    ));
                }
                self.remap_into(line, &mask.pixels, slot);
                Ok(())
            })?;
        Ok(Cow::Owned(batch))
    }
}
