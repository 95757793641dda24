//! ptyhold: the wire protocol between clients and the holder (`proto::Request` and
//! `proto::Reply`: decode, and encode what decoded), and the console log's cut at a
//! line end (`log::split_point`).
//!
//! The first byte picks the parser, the rest is its input: `q` a client's message (what
//! the holder receives from anyone who can connect), `p` a holder's message (what
//! `attach` and `list` receive), `l` flags byte, room (2 bytes, little-endian), data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptyhold::proto::{self, Reply, Request};
use toolkit_fuzz::{mode, u64_le};

fuzz_target!(|data: &[u8]| {
    let Some((m, rest)) = mode(data) else { return };
    match m {
        b'q' => {
            if let Ok(r) = Request::decode(rest) {
                let bytes = r.encode();
                assert!(bytes.len() <= proto::MAX_MESSAGE);
                assert_eq!(Request::decode(&bytes), Ok(r));
            }
        }
        b'p' => {
            if let Ok(r) = Reply::decode(rest) {
                let bytes = r.encode();
                assert_eq!(Reply::decode(&bytes), Ok(r));
            }
        }
        b'l' => {
            let Some((&flags, rest)) = rest.split_first() else {
                return;
            };
            let (room, data) = rest.split_at(rest.len().min(2));
            let room = usize::try_from(u64_le(room)).unwrap_or(0);
            let at = ptyhold::log::split_point(data, room, flags & 1 != 0, flags & 2 != 0);
            assert!(at <= room.min(data.len()));
            // A cut is after a newline, at the room's end, or nowhere.
            assert!(at == 0 || at == room.min(data.len()) || data[at - 1] == b'\n');
        }
        _ => {}
    }
});
