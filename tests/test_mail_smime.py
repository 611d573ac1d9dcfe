"""Opaque-signed S/MIME mail: the person's words are inside the signature, and are read from it."""

from __future__ import annotations

import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from mailgateway.extraction import extract
from mailgateway.parsing import parse_email
from mailgateway.smime import signed_content

INNER = b"Content-Type: text/plain; charset=utf-8\r\n\r\nThe meter in flat 4 reads 0 since Monday.\r\n"
DATA_OID = bytes.fromhex("06092a864886f70d010701")
SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")


def signed_der(content: bytes) -> bytes:
    """A SignedData with the content inside, as cryptography (OpenSSL) writes it: DER."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Asha Gurung")])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(cert, key, hashes.SHA256())
    return builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])


def chunked_ber(content: bytes) -> bytes:
    """The same shape as NSS and Outlook write it: indefinite lengths, the content in chunks.
    (No signer: only the content matters here.)"""
    half = len(content) // 2
    chunks = b"".join(b"\x04" + bytes([len(c)]) + c for c in (content[:half], content[half:]))
    encapsulated = b"\x30\x80" + DATA_OID + b"\xa0\x80\x24\x80" + chunks + b"\x00\x00" * 3
    signed = b"\x30\x80\x02\x01\x01\x31\x00" + encapsulated + b"\x31\x00\x00\x00"
    return b"\x30\x80" + SIGNED_DATA_OID + b"\xa0\x80" + signed + b"\x00\x00\x00\x00"


def opaque_signed_mail(der: bytes) -> bytes:
    head = (
        b"From: Asha Gurung <asha@example.com>\r\nTo: support@example.com\r\nSubject: Meter\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\n"
        b"Content-Disposition: attachment; filename=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    )
    return head + base64.encodebytes(der)


def test_the_content_of_a_signed_data_is_read_in_der_and_in_chunked_ber():
    assert signed_content(signed_der(INNER)) == INNER
    assert signed_content(chunked_ber(INNER)) == INNER


def test_an_opaque_signed_mail_gives_the_words_inside_its_signature():
    for der in (signed_der(INNER), chunked_ber(INNER)):
        extracted = extract(parse_email(opaque_signed_mail(der)))
        assert extracted.text == "The meter in flat 4 reads 0 since Monday."
        assert extracted.refused == [] and extracted.files == []


def test_what_is_not_signed_data_is_left_as_it_came():
    assert signed_content(b"\x30\x03\x06\x01\x00") is None
    assert signed_content(b"\x30\x80" + b"\x30\x80" * 40) is None  # nested past any real SignedData
    assert signed_content(chunked_ber(INNER)[:-20]) is None
