//! Our RESP codec against an independent one (the `redis-protocol` crate): every reply
//! we encode, in RESP2 and RESP3, decodes there to the value we meant; every request it
//! encodes decodes here to the same arguments; and our request decoder, fed random
//! bytes in random pieces, never panics and keeps no more than it was sent.

use bytes::BytesMut;
use mylsm_server::resp::{format_double, Limits, Protocol, Reply, RequestDecoder};
use proptest::prelude::*;
use redis_protocol::resp2::types::{OwnedFrame as Frame2, Resp2Frame};
use redis_protocol::resp3::types::OwnedFrame as Frame3;

/// What a reply means, independent of the protocol.
#[derive(Debug, Clone, PartialEq)]
enum M {
    Simple(Vec<u8>),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    Null,
    Array(Vec<M>),
    Map(Vec<(M, M)>),
    Set(Vec<M>),
    Double(u64),
    Bool(bool),
    Verbatim(Vec<u8>),
}

fn sorted<T: std::fmt::Debug>(mut v: Vec<T>) -> Vec<T> {
    v.sort_by_key(|x| format!("{x:?}"));
    v
}

/// What RESP2 carries for `r`.
fn meaning2(r: &Reply) -> M {
    match r {
        Reply::Simple(s) => M::Simple(s.as_bytes().to_vec()),
        Reply::Error(s) => M::Err(s.to_string()),
        Reply::Int(n) => M::Int(*n),
        Reply::Bulk(b) => M::Bulk(b.clone()),
        Reply::Null | Reply::NullArray => M::Null,
        Reply::Array(v) | Reply::Set(v) => M::Array(v.iter().map(meaning2).collect()),
        Reply::Map(p) => M::Array(p.iter().flat_map(|(k, v)| [meaning2(k), meaning2(v)]).collect()),
        Reply::Double(d) => M::Bulk(format_double(*d).into_bytes()),
        Reply::Bool(b) => M::Int(i64::from(*b)),
        Reply::Verbatim(s) => M::Bulk(s.as_bytes().to_vec()),
    }
}

/// What RESP3 carries for `r` (maps and sets compared without order).
fn meaning3(r: &Reply) -> M {
    match r {
        Reply::Null | Reply::NullArray => M::Null,
        Reply::Array(v) => M::Array(v.iter().map(meaning3).collect()),
        Reply::Set(v) => M::Set(sorted(v.iter().map(meaning3).collect())),
        Reply::Map(p) => {
            M::Map(sorted(p.iter().map(|(k, v)| (meaning3(k), meaning3(v))).collect()))
        }
        Reply::Double(d) => M::Double(d.to_bits()),
        Reply::Bool(b) => M::Bool(*b),
        Reply::Verbatim(s) => M::Verbatim(s.as_bytes().to_vec()),
        other => meaning2(other),
    }
}

fn from2(f: Frame2) -> M {
    match f {
        Frame2::SimpleString(s) => M::Simple(s),
        Frame2::Error(e) => M::Err(e.to_string()),
        Frame2::Integer(n) => M::Int(n),
        Frame2::BulkString(b) => M::Bulk(b),
        Frame2::Array(v) => M::Array(v.into_iter().map(from2).collect()),
        Frame2::Null => M::Null,
    }
}

fn from3(f: Frame3) -> M {
    match f {
        Frame3::BlobString { data, .. } => M::Bulk(data),
        Frame3::SimpleString { data, .. } => M::Simple(data),
        Frame3::SimpleError { data, .. } => M::Err(data.to_string()),
        Frame3::Number { data, .. } => M::Int(data),
        Frame3::Double { data, .. } => M::Double(data.to_bits()),
        Frame3::Boolean { data, .. } => M::Bool(data),
        Frame3::Null => M::Null,
        Frame3::Array { data, .. } => M::Array(data.into_iter().map(from3).collect()),
        Frame3::Map { data, .. } => {
            M::Map(sorted(data.into_iter().map(|(k, v)| (from3(k), from3(v))).collect()))
        }
        Frame3::Set { data, .. } => M::Set(sorted(data.into_iter().map(from3).collect())),
        Frame3::VerbatimString { data, .. } => M::Verbatim(data),
        other => panic!("we never send {other:?}"),
    }
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 :_-]{0,20}"
}

fn reply() -> impl Strategy<Value = Reply> {
    let leaf = prop_oneof![
        text().prop_map(|s| Reply::Simple(s.into())),
        text().prop_map(|s| Reply::Error(format!("ERR {s}").into())),
        any::<i64>().prop_map(Reply::Int),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Reply::Bulk),
        Just(Reply::Null),
        Just(Reply::NullArray),
        prop_oneof![
            any::<f64>().prop_filter("not NaN", |d| !d.is_nan()),
            Just(f64::INFINITY),
            Just(-0.5)
        ]
        .prop_map(Reply::Double),
        any::<bool>().prop_map(Reply::Bool),
        text().prop_map(Reply::Verbatim),
    ];
    leaf.prop_recursive(3, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Reply::Array),
            // Keys and members distinct: the oracle keeps maps and sets in hash tables.
            (proptest::collection::btree_set(text(), 0..5), proptest::collection::vec(inner, 5))
                .prop_map(|(keys, values)| {
                    Reply::Map(
                        keys.into_iter().zip(values).map(|(k, v)| (Reply::bulk(k), v)).collect(),
                    )
                }),
            proptest::collection::btree_set(text(), 0..5)
                .prop_map(|m| Reply::Set(m.into_iter().map(Reply::bulk).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn resp2_replies_decode_to_what_we_meant(r in reply()) {
        let mut out = Vec::new();
        r.encode(Protocol::Resp2, &mut out);
        let (frame, used) = redis_protocol::resp2::decode::decode(&out).unwrap().expect("complete");
        prop_assert_eq!(used, out.len());
        prop_assert_eq!(from2(frame), meaning2(&r));
    }

    #[test]
    fn resp3_replies_decode_to_what_we_meant(r in reply()) {
        let mut out = Vec::new();
        r.encode(Protocol::Resp3, &mut out);
        let (frame, used) = redis_protocol::resp3::decode::complete::decode(&out).unwrap().expect("complete");
        prop_assert_eq!(used, out.len());
        prop_assert_eq!(from3(frame), meaning3(&r));
    }

    #[test]
    fn requests_they_encode_we_decode(reqs in proptest::collection::vec(
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..30), 1..6), 1..5),
        cut in any::<prop::sample::Index>())
    {
        let mut wire = Vec::new();
        for args in &reqs {
            let frame = Frame2::Array(args.iter().cloned().map(Frame2::BulkString).collect());
            let mut buf = vec![0; frame.encode_len(false)];
            redis_protocol::resp2::encode::encode(&mut buf, &frame, false).unwrap();
            wire.extend_from_slice(&buf);
        }
        // Fed in two pieces, cut anywhere.
        let cut = cut.index(wire.len() + 1);
        let mut decoder = RequestDecoder::new(Limits::default());
        let mut buf = BytesMut::from(&wire[..cut]);
        let mut got = Vec::new();
        while let Some(r) = decoder.decode(&mut buf).unwrap() {
            got.push(r);
        }
        buf.extend_from_slice(&wire[cut..]);
        while let Some(r) = decoder.decode(&mut buf).unwrap() {
            got.push(r);
        }
        let got: Vec<Vec<Vec<u8>>> = got.into_iter().map(|r| r.into_iter().map(|b| b.to_vec()).collect()).collect();
        prop_assert_eq!(got, reqs);
        prop_assert!(buf.is_empty());
    }

    /// The fuzz target of the decoder: random bytes, random pieces, small limits.
    #[test]
    fn random_bytes_never_panic_the_decoder(
        chunks in proptest::collection::vec(proptest::collection::vec(
            prop_oneof![Just(b'*'), Just(b'$'), Just(b'\r'), Just(b'\n'), Just(b'"'), Just(b'\''),
                        Just(b'\\'), Just(b' '), Just(b'1'), Just(b'9'), Just(b'-'), any::<u8>()], 0..64), 1..8))
    {
        let limits = Limits { max_bulk_len: 64, max_array_len: 16, max_inline_len: 128 };
        let mut decoder = RequestDecoder::new(limits);
        let mut buf = BytesMut::new();
        let mut fed = 0;
        'outer: for chunk in chunks {
            fed += chunk.len();
            buf.extend_from_slice(&chunk);
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(args)) => {
                        prop_assert!(args.len() <= 16);
                        prop_assert!(args.iter().all(|a| a.len() <= 128));
                    }
                    Ok(None) => break,
                    Err(_) => break 'outer,
                }
            }
            prop_assert!(buf.len() <= fed);
        }
    }
}
