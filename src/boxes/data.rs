//! The packed form of a box job: images, the workers who answered each,
//! and the boxes of each answer, as flat arrays with offsets (CSR).

use hashbrown::HashMap;
use serde_json::Value;

use crate::error::{Error, Result};

/// An axis-aligned box by its corners, in pixels, top-left origin.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Rect {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge (`x1 + width`).
    pub x2: f32,
    /// Bottom edge (`y1 + height`).
    pub y2: f32,
}

/// Largest coordinate accepted, in pixels: boxes are stored as f32, exact
/// to a thousandth of a pixel up to here.
pub const MAX_COORDINATE: f64 = 10_000_000.0;

/// A non-empty id of at most [`MAX_ID_BYTES`](crate::engine::pack::MAX_ID_BYTES).
fn check_id(what: &str, id: &str) -> std::result::Result<(), String> {
    if id.is_empty() {
        return Err(format!("empty {what} id"));
    }
    if id.len() > crate::engine::pack::MAX_ID_BYTES {
        return Err(format!(
            "{what} id is {} bytes long; at most {} are accepted",
            id.len(),
            crate::engine::pack::MAX_ID_BYTES
        ));
    }
    Ok(())
}

impl Rect {
    /// `left`, `top`, `width`, `height` as a box, checked: finite numbers,
    /// within ±[`MAX_COORDINATE`].
    pub fn checked_ltwh(
        left: f64,
        top: f64,
        width: f64,
        height: f64,
    ) -> std::result::Result<Rect, String> {
        for (name, v) in [
            ("left", left),
            ("top", top),
            ("width", width),
            ("height", height),
        ] {
            if !v.is_finite() {
                return Err(format!("{name} {v} is not a finite number"));
            }
            if v.abs() > MAX_COORDINATE {
                return Err(format!(
                    "{name} {v} is beyond ±{MAX_COORDINATE} px, the largest coordinate accepted"
                ));
            }
        }
        if width < 1e-3 || height < 1e-3 {
            return Err(format!(
                "the box has width {width} and height {height}: both must be positive (and at least 1e-3 px)"
            ));
        }
        Ok(Rect::from_ltwh(left, top, width, height))
    }

    /// The box Ground Truth writes as `left`, `top`, `width`, `height`.
    pub fn from_ltwh(left: f64, top: f64, width: f64, height: f64) -> Rect {
        Rect {
            x1: left as f32,
            y1: top as f32,
            x2: (left + width) as f32,
            y2: (top + height) as f32,
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> f64 {
        (self.x2 - self.x1) as f64
    }

    /// Height in pixels.
    pub fn height(&self) -> f64 {
        (self.y2 - self.y1) as f64
    }

    /// The corners as f64, `[x1, y1, x2, y2]`.
    pub fn corners(&self) -> [f64; 4] {
        [
            self.x1 as f64,
            self.y1 as f64,
            self.x2 as f64,
            self.y2 as f64,
        ]
    }

    /// The box of corners `c`.
    pub fn from_corners(c: [f64; 4]) -> Rect {
        Rect {
            x1: c[0] as f32,
            y1: c[1] as f32,
            x2: c[2] as f32,
            y2: c[3] as f32,
        }
    }
}

/// A box job: who answered each image and which boxes each answer holds.
#[derive(Debug, Clone, Default)]
pub struct BoxData {
    /// Image ids, in the order of the input.
    pub images: Vec<String>,
    /// Each image's `(width, height)`, where the input gave it.
    pub image_sizes: Vec<Option<(u32, u32)>>,
    /// Each image's Ground Truth `dataObject`, where the input was a request.
    pub data_objects: Vec<Option<Value>>,
    /// Worker ids, in order of first appearance.
    pub workers: Vec<String>,
    /// Class names: `--categories` in its order, else sorted.
    pub classes: Vec<String>,
    /// Answers of image `i`: `image_offsets[i]..image_offsets[i + 1]`.
    pub image_offsets: Vec<usize>,
    /// The worker of each answer.
    pub answer_worker: Vec<u32>,
    /// Boxes of answer `a`: `answer_offsets[a]..answer_offsets[a + 1]`.
    pub answer_offsets: Vec<usize>,
    /// Every box.
    pub boxes: Vec<Rect>,
    /// The class of each box.
    pub box_class: Vec<u32>,
    /// Boxes that crossed the image border and were clipped to it.
    pub clipped: usize,
}

impl BoxData {
    /// Number of images.
    pub fn n_images(&self) -> usize {
        self.images.len()
    }

    /// The answers (indices into `answer_worker`) of image `i`.
    pub fn answers(&self, image: usize) -> std::ops::Range<usize> {
        self.image_offsets[image]..self.image_offsets[image + 1]
    }

    /// The boxes (indices into `boxes`) of answer `a`.
    pub fn answer_boxes(&self, answer: usize) -> std::ops::Range<usize> {
        self.answer_offsets[answer]..self.answer_offsets[answer + 1]
    }

    /// Number of answers.
    pub fn n_answers(&self) -> usize {
        self.answer_worker.len()
    }
}

/// Builds a [`BoxData`] from answers and boxes in any order, interning ids.
#[derive(Debug)]
pub struct BoxBuilder {
    images: HashMap<String, u32>,
    image_names: Vec<String>,
    image_sizes: Vec<Option<(u32, u32)>>,
    data_objects: Vec<Option<Value>>,
    workers: HashMap<String, u32>,
    worker_names: Vec<String>,
    classes: HashMap<String, u32>,
    class_names: Vec<String>,
    fixed_classes: bool,
    /// (image, worker) of every answer, with its position in `answers`.
    answer_index: HashMap<(u32, u32), u32>,
    answers: Vec<(u32, u32)>,
    /// Every box, its answer and its class, as three arrays: when the
    /// input lists boxes answer by answer, `finish` keeps the last two as
    /// they are.
    box_answer: Vec<u32>,
    boxes: Vec<Rect>,
    box_class: Vec<u32>,
    /// The label [`add_box`](Self::add_box) saw last and its class: most
    /// jobs have one or a few classes, so most boxes skip the hash lookup.
    last_label: Option<(String, u32)>,
    clipped: usize,
    /// The last answer looked up for a box: a table lists an answer's
    /// boxes together, so most boxes skip the id lookups.
    last_answer: LastAnswer,
    /// The image [`image`](Self::image) returned last.
    last_image: u32,
}

/// An answer remembered by name; its buffers are reused from one answer
/// to the next.
#[derive(Debug, Default)]
struct LastAnswer {
    image: String,
    worker: String,
    /// (image id, answer id); `None` until the first lookup.
    ids: Option<(u32, u32)>,
}

impl LastAnswer {
    fn get(&self, image: &str, worker: &str) -> Option<(u32, u32)> {
        self.ids
            .filter(|_| self.image == image && self.worker == worker)
    }

    fn set(&mut self, image: &str, worker: &str, ids: (u32, u32)) {
        self.image.clear();
        self.image.push_str(image);
        self.worker.clear();
        self.worker.push_str(worker);
        self.ids = Some(ids);
    }
}

impl BoxBuilder {
    /// An empty job; `categories` fixes the class list and its order.
    pub fn new(categories: Option<&[String]>) -> BoxBuilder {
        let mut builder = BoxBuilder {
            images: HashMap::new(),
            image_names: Vec::new(),
            image_sizes: Vec::new(),
            data_objects: Vec::new(),
            workers: HashMap::new(),
            worker_names: Vec::new(),
            classes: HashMap::new(),
            class_names: Vec::new(),
            fixed_classes: categories.is_some(),
            answer_index: HashMap::new(),
            answers: Vec::new(),
            box_answer: Vec::new(),
            boxes: Vec::new(),
            box_class: Vec::new(),
            last_label: None,
            clipped: 0,
            last_answer: LastAnswer::default(),
            last_image: 0,
        };
        for c in categories.unwrap_or(&[]) {
            let next = builder.class_names.len() as u32;
            builder.classes.entry(c.clone()).or_insert_with(|| {
                builder.class_names.push(c.clone());
                next
            });
        }
        builder
    }

    /// Makes room for up to about `images` more images, `answers` answers
    /// and `boxes` boxes (a reader's generous estimate from its files'
    /// sizes), sparing the tables most of their growth. An array's unused
    /// room is address space only; a hash table spreads its entries over
    /// all its pages, so the tables get half the estimate (one more
    /// doubling, where it was right).
    pub fn reserve(&mut self, images: usize, answers: usize, boxes: usize) {
        self.images.reserve(images / 2);
        self.image_names.reserve(images);
        self.image_sizes.reserve(images);
        self.data_objects.reserve(images);
        self.answer_index.reserve(answers / 2);
        self.answers.reserve(answers);
        self.box_answer.reserve(boxes);
        self.boxes.reserve(boxes);
        self.box_class.reserve(boxes);
    }

    /// The id of image `name`, added if new.
    pub fn image(&mut self, name: &str) -> u32 {
        if let Some(id) = self.predicted_image(name) {
            self.last_image = id;
            return id;
        }
        if let Some(&id) = self.images.get(name) {
            self.last_image = id;
            return id;
        }
        let id = self.image_names.len() as u32;
        self.last_image = id;
        self.images.insert(name.to_owned(), id);
        self.image_names.push(name.to_owned());
        self.image_sizes.push(None);
        self.data_objects.push(None);
        id
    }

    /// The id of image `name` if it is the last image asked for or the
    /// one after it: tables list an image's rows together and images in
    /// the order of the image table, so most rows skip the hash lookup.
    fn predicted_image(&self, name: &str) -> Option<u32> {
        let last = self.last_image as usize;
        [last, last + 1].into_iter().find_map(|i| {
            (self.image_names.get(i).map(String::as_str) == Some(name)).then_some(i as u32)
        })
    }

    /// Whether image `name` was seen.
    pub fn knows_image(&self, name: &str) -> bool {
        self.images.contains_key(name)
    }

    /// Records image `name`'s size; a different size given before is an error.
    pub fn set_size(
        &mut self,
        name: &str,
        width: u32,
        height: u32,
    ) -> std::result::Result<(), String> {
        let id = self.image(name) as usize;
        match self.image_sizes[id] {
            Some(old) if old != (width, height) => Err(format!(
                "image {name:?} was given as {}x{} before, now {width}x{height}",
                old.0, old.1
            )),
            _ => {
                self.image_sizes[id] = Some((width, height));
                Ok(())
            }
        }
    }

    /// Keeps image `name`'s Ground Truth `dataObject` for the manifest.
    pub fn set_data_object(&mut self, name: &str, object: Value) {
        let id = self.image(name) as usize;
        self.data_objects[id] = Some(object);
    }

    fn worker(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.workers.get(name) {
            return id;
        }
        let id = self.worker_names.len() as u32;
        self.workers.insert(name.to_owned(), id);
        self.worker_names.push(name.to_owned());
        id
    }

    /// Whether `worker` has an answer on `image` already.
    pub fn has_answer(&self, image: &str, worker: &str) -> bool {
        self.last_answer.get(image, worker).is_some() || self.lookup_answer(image, worker).is_some()
    }

    /// The answer of `worker` on `image`, if recorded; remembered, so the
    /// [`add_box`](Self::add_box) that usually follows skips the lookup.
    pub fn find_answer(&mut self, image: &str, worker: &str) -> Option<u32> {
        if let Some((_, answer)) = self.last_answer.get(image, worker) {
            return Some(answer);
        }
        let ids = self
            .next_answer_in_order(image, worker)
            .or_else(|| self.lookup_answer(image, worker))?;
        self.last_answer.set(image, worker, ids);
        Some(ids.1)
    }

    /// (image id, answer id) of the answer recorded after the last one
    /// found, if it is `worker`'s on `image`: a box table usually lists
    /// answers in the order of the responses table.
    fn next_answer_in_order(&self, image: &str, worker: &str) -> Option<(u32, u32)> {
        let next = self.last_answer.ids.map_or(0, |(_, a)| a + 1);
        let &(i, w) = self.answers.get(next as usize)?;
        (self.image_names[i as usize] == image && self.worker_names[w as usize] == worker)
            .then_some((i, next))
    }

    /// (image id, answer id) of `worker`'s answer on `image`, by the tables.
    fn lookup_answer(&self, image: &str, worker: &str) -> Option<(u32, u32)> {
        let i = *self.images.get(image)?;
        let w = *self.workers.get(worker)?;
        self.answer_index.get(&(i, w)).map(|&a| (i, a))
    }

    /// Records that `worker` answered `image` (with or without boxes).
    /// Answering twice is an error: the second answer would be a second vote.
    pub fn answer(&mut self, image: &str, worker: &str) -> std::result::Result<u32, String> {
        check_id("image", image)?;
        check_id("worker", worker)?;
        // A repeated answer's image and worker are known already: looking
        // them up (adding them if new) before the check changes nothing.
        let i = self.image(image);
        let w = self.worker(worker);
        let next = self.answers.len() as u32;
        match self.answer_index.entry((i, w)) {
            hashbrown::hash_map::Entry::Occupied(_) => {
                Err(format!("worker {worker:?} answered image {image:?} twice"))
            }
            hashbrown::hash_map::Entry::Vacant(slot) => {
                slot.insert(next);
                self.answers.push((i, w));
                Ok(next)
            }
        }
    }

    /// The answer of `worker` on the image of id `image`, made if new.
    fn answer_at(&mut self, image: u32, worker: &str) -> u32 {
        let w = self.worker(worker);
        let next = self.answers.len() as u32;
        *self.answer_index.entry((image, w)).or_insert_with(|| {
            self.answers.push((image, w));
            next
        })
    }

    /// Adds a box of `worker` on `image` (making the answer if new). The
    /// box must have a positive size and finite corners; on an image of
    /// known size it is clipped to the image, and one wholly outside is an
    /// error. Returns whether it was clipped.
    pub fn add_box(
        &mut self,
        image: &str,
        worker: &str,
        label: &str,
        rect: Rect,
    ) -> std::result::Result<bool, String> {
        check_id("image", image)?;
        check_id("worker", worker)?;
        check_id("label", label)?;
        if rect.width() <= 0.0 || rect.height() <= 0.0 {
            return Err(format!(
                "the box has width {} and height {}: both must be positive (and at least 1e-3 px)",
                rect.width(),
                rect.height()
            ));
        }
        let known_class = match &self.last_label {
            Some((name, class)) if name == label => Some(*class),
            _ => self.classes.get(label).copied(),
        };
        if known_class.is_none() && self.fixed_classes {
            return Err(format!(
                "label {label:?} is not one of --categories ({})",
                self.class_names.join(", ")
            ));
        }
        let cached = self.last_answer.get(image, worker);
        let image_id = match cached {
            Some((image_id, _)) => image_id,
            None => self.image(image),
        };
        let mut rect = rect;
        let mut clipped = false;
        if let Some((w, h)) = self.image_sizes[image_id as usize] {
            let (w, h) = (w as f32, h as f32);
            if rect.x1 >= w || rect.y1 >= h || rect.x2 <= 0.0 || rect.y2 <= 0.0 {
                return Err(format!(
                    "the box ({}, {})-({}, {}) lies wholly outside the {w}x{h} image",
                    rect.x1, rect.y1, rect.x2, rect.y2
                ));
            }
            let inside = Rect {
                x1: rect.x1.max(0.0),
                y1: rect.y1.max(0.0),
                x2: rect.x2.min(w),
                y2: rect.y2.min(h),
            };
            clipped = inside != rect;
            rect = inside;
        }
        // The answer and a new class are made only for a box that passed
        // the checks (a table without --responses has no other sign of the
        // answer, and a rejected box's label is no class of the job).
        let class = known_class.unwrap_or_else(|| {
            let id = self.class_names.len() as u32;
            self.classes.insert(label.to_owned(), id);
            self.class_names.push(label.to_owned());
            id
        });
        match &mut self.last_label {
            Some((name, last)) if name == label => *last = class,
            slot => *slot = Some((label.to_owned(), class)),
        }
        let answer = match cached {
            Some((_, answer)) => answer,
            None => {
                let answer = self.answer_at(image_id, worker);
                self.last_answer.set(image, worker, (image_id, answer));
                answer
            }
        };
        self.box_answer.push(answer);
        self.boxes.push(rect);
        self.box_class.push(class);
        self.clipped += clipped as usize;
        Ok(clipped)
    }

    /// Number of answers so far.
    pub fn n_answers(&self) -> usize {
        self.answers.len()
    }

    /// The packed job. Classes are sorted by name unless `--categories`
    /// fixed them; images keep input order.
    pub fn finish(mut self) -> BoxData {
        // Class ids by sorted name, so the output does not depend on the
        // order the input happened to list boxes in.
        if !self.fixed_classes {
            let mut order: Vec<u32> = (0..self.class_names.len() as u32).collect();
            order.sort_by(|&a, &b| self.class_names[a as usize].cmp(&self.class_names[b as usize]));
            let mut remap = vec![0u32; order.len()];
            for (new, &old) in order.iter().enumerate() {
                remap[old as usize] = new as u32;
            }
            for class in &mut self.box_class {
                *class = remap[*class as usize];
            }
            self.class_names = order
                .iter()
                .map(|&o| self.class_names[o as usize].clone())
                .collect();
        }
        let n_images = self.image_names.len();
        // Answers grouped by image (in order of arrival within an image):
        // a table that lists each image's answers together needs no move.
        let answers_in_order = self.answers.windows(2).all(|p| p[0].0 <= p[1].0);
        let new_of_old: Option<Vec<u32>> = (!answers_in_order).then(|| {
            let mut answer_order: Vec<u32> = (0..self.answers.len() as u32).collect();
            answer_order.sort_by_key(|&a| self.answers[a as usize].0);
            let mut new_of_old = vec![0u32; self.answers.len()];
            for (new, &old) in answer_order.iter().enumerate() {
                new_of_old[old as usize] = new as u32;
            }
            self.answers = answer_order
                .iter()
                .map(|&a| self.answers[a as usize])
                .collect();
            new_of_old
        });
        if let Some(new_of_old) = &new_of_old {
            for a in &mut self.box_answer {
                *a = new_of_old[*a as usize];
            }
        }
        let mut image_offsets = vec![0usize; n_images + 1];
        for &(image, _) in &self.answers {
            image_offsets[image as usize + 1] += 1;
        }
        for i in 0..n_images {
            image_offsets[i + 1] += image_offsets[i];
        }
        let answer_worker: Vec<u32> = self.answers.iter().map(|a| a.1).collect();
        let mut answer_offsets = vec![0usize; answer_worker.len() + 1];
        for &a in &self.box_answer {
            answer_offsets[a as usize + 1] += 1;
        }
        for a in 0..answer_worker.len() {
            answer_offsets[a + 1] += answer_offsets[a];
        }
        // Boxes grouped by answer, in order of arrival within an answer;
        // a table that lists each answer's boxes together is kept as it is.
        let (boxes, box_class) = if self.box_answer.windows(2).all(|p| p[0] <= p[1]) {
            // A reader's reservation may have been generous.
            self.boxes.shrink_to_fit();
            self.box_class.shrink_to_fit();
            (self.boxes, self.box_class)
        } else {
            let mut fill = answer_offsets.clone();
            let empty = Rect {
                x1: 0.0,
                y1: 0.0,
                x2: 0.0,
                y2: 0.0,
            };
            let mut boxes = vec![empty; self.boxes.len()];
            let mut box_class = vec![0u32; self.boxes.len()];
            for ((&a, &rect), &class) in
                self.box_answer.iter().zip(&self.boxes).zip(&self.box_class)
            {
                let a = a as usize;
                boxes[fill[a]] = rect;
                box_class[fill[a]] = class;
                fill[a] += 1;
            }
            (boxes, box_class)
        };
        BoxData {
            images: self.image_names,
            image_sizes: self.image_sizes,
            data_objects: self.data_objects,
            workers: self.worker_names,
            classes: self.class_names,
            image_offsets,
            answer_worker,
            answer_offsets,
            boxes,
            box_class,
            clipped: self.clipped,
        }
    }
}

/// `Error::Usage` when a job has no answers at all.
pub(crate) fn require_answers(data: &BoxData) -> Result<()> {
    if data.n_answers() == 0 {
        return Err(Error::Usage("the input holds no answers".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    type ByName = BTreeMap<(String, String), Vec<(String, [u64; 4])>>;

    /// Every answer's boxes by (image, worker) name, in the answer's order.
    fn by_name(data: &BoxData) -> ByName {
        let mut out = ByName::new();
        for (i, image) in data.images.iter().enumerate() {
            for a in data.answers(i) {
                let worker = data.workers[data.answer_worker[a] as usize].clone();
                let boxes = data
                    .answer_boxes(a)
                    .map(|b| {
                        let class = data.classes[data.box_class[b] as usize].clone();
                        (class, data.boxes[b].corners().map(f64::to_bits))
                    })
                    .collect();
                out.insert((image.clone(), worker), boxes);
            }
        }
        out
    }

    /// Builds a job from (image, worker, box number) rows in `order`, with
    /// every answer listed first as `responses` are.
    fn build(rows: &[(usize, usize, usize)], answers: &[(usize, usize)]) -> BoxData {
        let mut b = BoxBuilder::new(None);
        for i in 0..6 {
            b.set_size(&format!("img{i}"), 100, 100).unwrap();
        }
        for &(i, w) in answers {
            b.answer(&format!("img{i}"), &format!("w{w}")).unwrap();
        }
        for &(i, w, k) in rows {
            let (image, worker) = (format!("img{i}"), format!("w{w}"));
            assert!(b.find_answer(&image, &worker).is_some());
            let at = (10 * k + i + w) as f64;
            let rect = Rect::from_ltwh(at, at / 2.0, 5.0 + k as f64, 7.0);
            b.add_box(&image, &worker, &format!("c{}", k % 2), rect)
                .unwrap();
        }
        b.finish()
    }

    /// A seeded Fisher-Yates shuffle.
    fn shuffle<T>(v: &mut [T], state: &mut u64) {
        for j in (1..v.len()).rev() {
            *state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            v.swap(j, (*state >> 33) as usize % (j + 1));
        }
    }

    #[test]
    fn a_rejected_box_adds_no_class_and_no_answer() {
        let mut b = BoxBuilder::new(None);
        b.set_size("img0", 100, 100).unwrap();
        let outside = Rect::from_ltwh(150.0, 10.0, 5.0, 5.0);
        let err = b.add_box("img0", "w0", "ghost", outside).unwrap_err();
        assert!(err.contains("wholly outside"), "{err}");
        b.add_box("img0", "w1", "car", Rect::from_ltwh(1.0, 1.0, 5.0, 5.0))
            .unwrap();
        let data = b.finish();
        assert_eq!(data.classes, ["car"]);
        assert_eq!(data.n_answers(), 1);
    }

    #[test]
    fn tables_in_any_order_give_the_same_job() {
        // The lookups predict the next image and answer from the last one;
        // a job read in a shuffled order must not differ.
        let answers: Vec<(usize, usize)> = (0..6)
            .flat_map(|i| (0..3).map(move |w| (i, (w + i) % 4)))
            .collect();
        let rows: Vec<(usize, usize, usize)> = answers
            .iter()
            .filter(|&&(i, w)| (i + w) % 5 != 0)
            .flat_map(|&(i, w)| (0..1 + (i + w) % 3).map(move |k| (i, w, k)))
            .collect();
        let ordered = by_name(&build(&rows, &answers));
        let mut state = 7u64;
        for _ in 0..20 {
            let (mut rows2, mut answers2) = (rows.clone(), answers.clone());
            shuffle(&mut rows2, &mut state);
            shuffle(&mut answers2, &mut state);
            // Within an answer, boxes keep their relative order, which the
            // shuffle may change: compare as sets of boxes.
            let sorted = |m: ByName| -> ByName {
                m.into_iter()
                    .map(|(k, mut v)| {
                        v.sort();
                        (k, v)
                    })
                    .collect()
            };
            assert_eq!(
                sorted(by_name(&build(&rows2, &answers2))),
                sorted(ordered.clone())
            );
        }
        assert_eq!(ordered.len(), answers.len());
    }
}
