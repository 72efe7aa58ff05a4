//! The server side of the node-to-node transport: the listener that accepts peers'
//! connections and answers their request frames through the node's [`Service`].
//!
//! Each connection is served by its own task, one request at a time, in order. A
//! protocol error (oversized or truncated frame, unknown kind, undecodable payload)
//! closes that connection and nothing else. When the node stops, the listener and
//! every connection task end, so a restarted node can bind the same address.

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::frame::{read_frame, write_frame, Kind, REPLY};
use crate::service::Service;

/// Accepts connections on `listener` until `stop` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    stop: watch::Receiver<bool>,
) {
    let mut stopped = stop.clone();
    loop {
        tokio::select! {
            _ = stopped.wait_for(|s| *s) => return,
            accepted = listener.accept() => {
                // An accept error (out of descriptors, a connection reset before
                // accept) concerns one connection; keep serving the others.
                if let Ok((stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(stream, service.clone(), stop.clone()));
                }
            }
        }
    }
}

/// Serves one peer connection until it closes, misbehaves, or the node stops.
async fn connection(mut stream: TcpStream, service: Arc<Service>, mut stop: watch::Receiver<bool>) {
    loop {
        let frame = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            frame = read_frame(&mut stream) => frame,
        };
        let Ok((kind_byte, payload)) = frame else { return };
        let Some(kind) = Kind::from_byte(kind_byte) else { return };
        let reply = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            reply = service.dispatch(kind, &payload) => reply,
        };
        let Ok(reply) = reply else { return };
        if write_frame(&mut stream, kind as u8 | REPLY, &reply).await.is_err() {
            return;
        }
    }
}
