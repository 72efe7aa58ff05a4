//! Unit tests for cursor positioning at the ends of the list and for `ArcIter`.

use super::*;
use crate::BytewiseComparator;

/// A list holding the keys 10, 20, ..., 50 (one byte each) with value `key + 1`.
fn sample() -> SkipList<BytewiseComparator> {
    let list = SkipList::new(BytewiseComparator);
    for key in [30u8, 10, 50, 20, 40] {
        list.insert(&[key], &[key + 1]);
    }
    list
}

#[test]
fn new_cursor_is_invalid() {
    let list = sample();
    assert!(!list.iter().valid());
    assert!(!ArcIter::new(Arc::new(sample())).valid());
}

#[test]
fn forward_and_backward_walks() {
    let list = sample();
    let mut it = list.iter();
    it.seek_to_first();
    let mut seen = Vec::new();
    while it.valid() {
        assert_eq!(it.value(), [it.key()[0] + 1]);
        seen.push(it.key()[0]);
        it.next();
    }
    assert_eq!(seen, [10, 20, 30, 40, 50]);
    it.seek_to_last();
    seen.clear();
    while it.valid() {
        seen.push(it.key()[0]);
        it.prev();
    }
    assert_eq!(seen, [50, 40, 30, 20, 10]);
}

#[test]
fn seek_at_both_ends() {
    let list = sample();
    let mut it = list.iter();
    it.seek(&[0]);
    assert_eq!(it.key(), [10]);
    it.seek(&[10]);
    assert_eq!(it.key(), [10]);
    it.seek(&[11]);
    assert_eq!(it.key(), [20]);
    it.seek(&[50]);
    assert_eq!(it.key(), [50]);
    it.seek(&[51]);
    assert!(!it.valid());
}

#[test]
fn seek_for_prev_at_both_ends() {
    let list = sample();
    let mut it = list.iter();
    it.seek_for_prev(&[9]);
    assert!(!it.valid());
    it.seek_for_prev(&[10]);
    assert_eq!(it.key(), [10]);
    it.seek_for_prev(&[29]);
    assert_eq!(it.key(), [20]);
    it.seek_for_prev(&[255]);
    assert_eq!(it.key(), [50]);
}

#[test]
fn prev_from_first_and_next_from_last_become_invalid() {
    let list = sample();
    let mut it = list.iter();
    it.seek_to_first();
    it.prev();
    assert!(!it.valid());
    it.seek_to_last();
    it.next();
    assert!(!it.valid());
}

#[test]
fn empty_list_cursor_stays_invalid() {
    let list = SkipList::new(BytewiseComparator);
    let mut it = list.iter();
    it.seek_to_first();
    assert!(!it.valid());
    it.seek_to_last();
    assert!(!it.valid());
    it.seek(b"");
    assert!(!it.valid());
    it.seek_for_prev(b"\xff");
    assert!(!it.valid());
}

#[test]
#[should_panic(expected = "not valid")]
fn key_of_invalid_cursor_panics() {
    let list = sample();
    let _ = list.iter().key();
}

#[test]
#[should_panic(expected = "not valid")]
fn next_of_invalid_cursor_panics() {
    let list = sample();
    list.iter().next();
}

#[test]
fn clones_move_independently() {
    let list = sample();
    let mut a = list.iter();
    a.seek_to_first();
    let mut b = a.clone();
    b.next();
    assert_eq!(a.key(), [10]);
    assert_eq!(b.key(), [20]);
}

#[test]
fn keys_outlive_the_cursor() {
    let list = sample();
    let key = {
        let mut it = list.iter();
        it.seek_to_last();
        it.key()
    };
    assert_eq!(key, [50]);
}

#[test]
fn arc_iter_keeps_the_list_alive() {
    let list = Arc::new(sample());
    let mut it = ArcIter::new(Arc::clone(&list));
    drop(list);
    it.seek(&[25]);
    assert_eq!((it.key(), it.value()), (&[30][..], &[31][..]));
    it.prev();
    assert_eq!(it.key(), [20]);
    it.seek_for_prev(&[45]);
    assert_eq!(it.key(), [40]);
    let mut copy = it.clone();
    copy.seek_to_last();
    assert_eq!(copy.key(), [50]);
    assert_eq!(it.key(), [40]);
    assert_eq!(it.list().len(), 5);
    it.seek_to_first();
    assert_eq!(it.key(), [10]);
    assert!(format!("{it:?}").contains("ArcIter"));
}

#[test]
fn cursors_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SkipList<BytewiseComparator>>();
    assert_send_sync::<Iter<'static, BytewiseComparator>>();
    assert_send_sync::<ArcIter<BytewiseComparator>>();
}
