"""The footers that phones and mail apps put under what the person wrote ("Sent from my iPhone",
"Get Outlook for Android", "Sent with Proton Mail secure email.", "发自我的iPhone"), as they write
them: a sentence that merely starts the same way ("Sent from my bank account.") is the person's.
Pure; used by `quoting`.
"""

from __future__ import annotations

import re

# What phones and K-9 Mail ask to excuse after "Sent from my ...": "please excuse my brevity and any typos".
_EXCUSED = (
    r"(?:brevity|briefness|terseness|typos?|misspellings|auto-?correct(?:ions?)?"
    r"|(?:spelling|typing|typographical)(?:\s+(?:errors|mistakes))?|errors|mistakes)"
)
_EXCUSED_PHRASE = rf"(?:(?:my|the|any|all)\s+)?{_EXCUSED}"
_APOLOGY = rf"\s?[,.;-]?\s+please\s+excuse\s+{_EXCUSED_PHRASE}(?:\s+and\s+{_EXCUSED_PHRASE})?"
# The device that "Sent from my ..." names ("iPhone", "Samsung Galaxy A52 5G phone", "Android device with
# K-9 Mail", "Windows Phone"); "Sent from my bank account." names none and is the person's.
_DEVICE = (
    r"(?:i?phone|smartphone|mobile|cell(?:phone)?|device|tablet|handset|iPad|iPod|Android|BlackBerry|Galaxy"
    r"|Samsung|Huawei|Honor|Xiaomi|Redmi|Pixel|Nexus|Nokia|Lumia|Motorola|Moto|Droid|HTC|LG|Sony|Xperia"
    r"|OnePlus|OPPO|vivo|ZTE|Lenovo|ASUS|Kindle|Surface|Watch|Mail|Outlook)"
)
# The platform an app's footer may name, and the link Outlook and Windows Mail put in the plain text:
# "Sent from Mail<https://go.microsoft.com/fwlink/?LinkId=550986> for Windows 10", "Sent from Yahoo
# Mail on Android", "Sent from Outlook for iOS". Nothing else follows the app's name. The link is
# in brackets when `html_text` made the footer of an HTML-only mail: "Get Outlook for iOS (https://aka.ms/o0ukef)".
_LINK = r"(?:\s?<https?://[^\s<>]{1,200}>|\s\(https?://[^\s()]{1,200}\))?"
# Proton Mail: "Sent with Proton Mail secure email.", the name a link in its HTML ("Sent with Proton
# Mail (https://proton.me/) secure email.") and in Markdown in its text ("Sent with [Proton
# Mail](https://proton.me/) secure email."); "ProtonMail Secure Email" before 2022.
_PROTON = r"Proton\s?Mail"
_PROTON_FOOTER = rf"Sent with (?:{_PROTON}{_LINK}|\[{_PROTON}\]\(https?://[^\s()]{{1,200}}\)) secure email"
_PLATFORM = r"(?:iOS|Android|iPhone|iPad|Mac|Windows(?:\s(?:10|11|Phone))?)"
_APP_FOOTER = rf"Sent from (?:Yahoo Mail|Mail|Outlook|Windows Mail|Mailbox){_LINK}(?:\s(?:for|on)\s{_PLATFORM}{_LINK})?"
# The device of the Chinese footers ("从我的 iPhone 发送", "发自我的华为手机", "发自我的三星Galaxy智能手机"): a
# brand, a model of Latin letters and digits, then "phone"; "发自我的内心..." ("from my heart") is prose.
_DEVICE_ZH = (
    r"(?:iPhone|iPad|iPod|Android|Galaxy|Samsung|HUAWEI|Honor|Xiaomi|Redmi|OPPO|vivo|OnePlus|Pixel"
    r"|华为|華為|小米|红米|紅米|荣耀|榮耀|三星|魅族|一加|手机|手機|平板|安卓)"
    r"(?:\s?[A-Za-z0-9+-]{1,15}){0,4}(?:\s?(?:智能手机|智慧型手機|手机|手機|平板电脑|平板))?"
)
# What may follow the device's name: its model, in capitals or digits ("iPhone 15 Pro", "Galaxy A52
# 5G"); a word in lower case after it ("my mobile banking app", "my phone number") is a sentence.
_MODEL = (
    r"(?:(?-i:[A-Z0-9][\w+()-]*)|mini|lite|plus|pro|max|ultra|neo|nova|note|edge|go|prime|smart|moto(?:\s?g\S*)?)"
    r"[®™]?"
)
# What some apps add after the device: "Sent from my iPhone using Tapatalk", "... using TouchDown
# (www.nitrodesk.com)".
_USING_APP = r"(?:\s+using\s+(?-i:[A-Z][\w-]*)(?:\s+\(\S{1,60}\))?)?"
# One whole line, as the phone or app writes it under the reply. The words of "Sent from my ..."
# hold no comma, so a sentence such as "Sent from my phone, please call me back." stays; up to
# four words and a device's name, then only its model ("Sent from my PayPal account." stays). The apology
# that phones and K-9 Mail add ("..., please excuse my brevity.") is part of the footer when it
# excuses brevity or typing, and nothing more.
_FOOTERS = (
    rf"Sent from my(?:\s+[^\s,;]+){{0,4}}?\s+{_DEVICE}[®™]?(?:\s+{_MODEL}){{0,3}}"
    rf"(?:\s+with\s+K-9\s+Mail)?{_USING_APP}(?:{_APOLOGY})?",
    _APP_FOOTER,
    rf"Sent with (?:Airmail|Spark){_LINK}",
    _PROTON_FOOTER,
    rf"Get Outlook for\s{_PLATFORM}{_LINK}",
    r"Von meinem(?:\s+\S+){1,3}\s+gesendet",
    r"Gesendet von meinem(?:\s+\S+){1,3}",
    r"Diese Nachricht wurde von meinem(?:\s+\S+){1,4}\s+gesendet",  # K-9 Mail in German
    r"Envoyé (?:de|depuis) mon(?:\s+\S+){1,3}",
    r"Enviado desde mi(?:\s+\S+){1,3}",
    r"मेरे(?:\s+\S+){1,3}\s+से\s+भेजा\s+गया",
    # iOS and Android in Chinese (traditional, simplified) and Japanese, naming the device
    rf"[從从]我的\s?{_DEVICE_ZH}\s?(?:傳送|发送)",
    rf"发自我的\s?{_DEVICE_ZH}",
    r"(?:iPhone|iPad|Android)\s?から送信",
)
_MOBILE_FOOTER = re.compile(rf"(?:{'|'.join(_FOOTERS)})[.!]?", re.IGNORECASE)


def is_mobile_footer(line: str) -> bool:
    return len(line) <= 160 and _MOBILE_FOOTER.fullmatch(line.strip()) is not None
