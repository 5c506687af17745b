//! The smallest MQTT 3.1.1 publisher a simulated rig needs: CONNECT, PUBLISH at QoS 1, PUBACK.
//! Hand-rolled rather than one rumqttc event loop per rig so that 100,000 of them fit in one
//! process on this machine; it speaks the real wire format to a real broker.
//!
//! Must never report a record as sent before the broker's PUBACK for it arrived.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

pub struct Conn {
    stream: TcpStream,
    next_id: u16,
}

fn remaining_length(mut len: usize, out: &mut Vec<u8>) {
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
}

fn string(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Conn {
    /// Connects from `source` (any 127.x address: each gives its own ~28,000 ephemeral ports) to
    /// `broker`, with a persistent session so the broker keeps unacknowledged QoS 1 state.
    pub async fn connect(
        broker: SocketAddr,
        source: IpAddr,
        client_id: &str,
        keep_alive_s: u16,
    ) -> io::Result<Conn> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source, 0))?;
        let mut stream = tokio::time::timeout(Duration::from_secs(20), socket.connect(broker))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        let mut body = Vec::with_capacity(32 + client_id.len());
        string("MQTT", &mut body);
        body.push(4); // protocol level 3.1.1
        body.push(0x00); // flags: clean session off (persistent), no will, no auth
        body.extend_from_slice(&keep_alive_s.to_be_bytes());
        string(client_id, &mut body);
        let mut packet = vec![0x10];
        remaining_length(body.len(), &mut packet);
        packet.extend_from_slice(&body);
        stream.write_all(&packet).await?;
        let mut ack = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(20), stream.read_exact(&mut ack))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "CONNACK timed out"))??;
        if ack[0] != 0x20 || ack[3] != 0 {
            return Err(io::Error::other(format!("CONNACK refused: {ack:?}")));
        }
        Ok(Conn { stream, next_id: 1 })
    }

    /// Publishes at QoS 1 and waits for its PUBACK. `dup` marks a resend after a reconnect.
    pub async fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        dup: bool,
        timeout: Duration,
    ) -> io::Result<()> {
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        let mut packet = Vec::with_capacity(8 + topic.len() + payload.len());
        packet.push(if dup { 0x3A } else { 0x32 });
        remaining_length(2 + topic.len() + 2 + payload.len(), &mut packet);
        string(topic, &mut packet);
        packet.extend_from_slice(&id.to_be_bytes());
        packet.extend_from_slice(payload);
        self.stream.write_all(&packet).await?;
        tokio::time::timeout(timeout, self.await_puback(id))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "PUBACK timed out"))?
    }

    async fn await_puback(&mut self, id: u16) -> io::Result<()> {
        loop {
            let mut head = [0u8; 2];
            self.stream.read_exact(&mut head).await?;
            let mut len = usize::from(head[1] & 0x7F);
            let mut shift = 7;
            let mut byte = head[1];
            while byte & 0x80 != 0 {
                let mut b = [0u8; 1];
                self.stream.read_exact(&mut b).await?;
                byte = b[0];
                len += usize::from(byte & 0x7F) << shift;
                shift += 7;
            }
            let mut body = vec![0u8; len];
            self.stream.read_exact(&mut body).await?;
            // PUBACK for ours; anything else (a late PUBACK of an earlier id, PINGRESP) is skipped.
            if head[0] == 0x40 && body.len() == 2 && u16::from_be_bytes([body[0], body[1]]) == id {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::remaining_length;

    #[test]
    fn remaining_length_is_the_spec_varint() {
        for (len, want) in [
            (0usize, vec![0u8]),
            (127, vec![0x7F]),
            (128, vec![0x80, 0x01]),
            (16_383, vec![0xFF, 0x7F]),
            (16_384, vec![0x80, 0x80, 0x01]),
        ] {
            let mut out = Vec::new();
            remaining_length(len, &mut out);
            assert_eq!(out, want, "{len}");
        }
    }
}
