//! Results of parallel jobs, taken in the order the jobs were numbered.
//!
//! The parallel readers parse pieces of a file on the thread pool and hand
//! them over in file order on the calling thread. A job that panics must
//! not leave that thread waiting for a piece that will never come: each
//! job's result, panic included, is sent, and a panic is resumed on the
//! thread that takes it.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::Result as Caught;

/// The receiving end: jobs' results by number.
pub(crate) struct InOrder<T> {
    sender: Sender<(usize, Caught<T>)>,
    receiver: Receiver<(usize, Caught<T>)>,
    /// Results that came before their turn, panics included: a panic is
    /// resumed only when its piece's turn comes, as a sequential reader
    /// would meet it (an earlier piece's error comes first).
    waiting: BTreeMap<usize, Caught<T>>,
}

/// What a job sends its result with.
pub(crate) struct JobSender<T>(Sender<(usize, Caught<T>)>);

impl<T> InOrder<T> {
    pub fn new() -> Self {
        let (sender, receiver) = channel();
        InOrder {
            sender,
            receiver,
            waiting: BTreeMap::new(),
        }
    }

    /// A sender for one job.
    pub fn sender(&self) -> JobSender<T> {
        JobSender(self.sender.clone())
    }

    /// Waits for job `index`'s result; resumes the job's panic if it
    /// panicked. Every job numbered `index` must have been started.
    pub fn take(&mut self, index: usize) -> T {
        loop {
            if let Some(result) = self.waiting.remove(&index) {
                return result.unwrap_or_else(|panic| resume_unwind(panic));
            }
            // `self` holds a sender, so the channel never closes: a job
            // that was started always sends, panic or not.
            let (got, result) = self.receiver.recv().expect("a sender is held");
            self.waiting.insert(got, result);
        }
    }

    /// Job `index`'s result if it is in, without waiting.
    pub fn try_take(&mut self, index: usize) -> Option<T> {
        while let Ok((got, result)) = self.receiver.try_recv() {
            self.waiting.insert(got, result);
        }
        let result = self.waiting.remove(&index)?;
        Some(result.unwrap_or_else(|panic| resume_unwind(panic)))
    }
}

impl<T> JobSender<T> {
    /// Runs `job` and sends its result (or its panic) as number `index`.
    pub fn run(self, index: usize, job: impl FnOnce() -> T) {
        let result = catch_unwind(AssertUnwindSafe(job));
        // The receiver lives until every job it waits for has sent; one
        // left unread after an early stop is simply dropped.
        let _ = self.0.send((index, result));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_job_order_whatever_order_they_finish_in() {
        let mut results = InOrder::new();
        rayon::in_place_scope(|scope| {
            for index in (0..50).rev() {
                let sender = results.sender();
                scope.spawn(move |_| sender.run(index, || index * 10));
            }
            let got: Vec<usize> = (0..50).map(|i| results.take(i)).collect();
            assert_eq!(got, (0..50).map(|i| i * 10).collect::<Vec<_>>());
        });
    }

    #[test]
    fn an_earlier_jobs_result_comes_before_a_later_jobs_panic() {
        let mut results = InOrder::new();
        rayon::in_place_scope(|scope| {
            let (slow, broken) = (results.sender(), results.sender());
            scope.spawn(move |_| {
                std::thread::sleep(std::time::Duration::from_millis(50));
                slow.run(0, || Err::<usize, _>("piece 0 has a bad line"))
            });
            scope.spawn(move |_| broken.run(1, || panic!("piece 1 is broken")));
            assert_eq!(results.take(0), Err("piece 0 has a bad line"));
        });
        let mut results = InOrder::new();
        let sender = results.sender();
        assert_eq!(results.try_take(0), None::<usize>);
        sender.run(0, || 7);
        assert_eq!(results.try_take(0), Some(7));
    }

    #[test]
    fn a_job_that_panics_is_a_panic_for_the_taker_not_a_hang() {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut results = InOrder::new();
            rayon::in_place_scope(|scope| {
                for index in 0..8 {
                    let sender = results.sender();
                    scope.spawn(move |_| {
                        sender.run(index, || {
                            if index == 5 {
                                panic!("piece 5 is broken");
                            }
                            index
                        })
                    });
                }
                (0..8).map(|i| results.take(i)).sum::<usize>()
            })
        }));
        let panic = outcome.expect_err("the panic reaches the taker");
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"piece 5 is broken"));
    }
}
