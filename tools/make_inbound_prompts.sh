#!/bin/sh
# Makes the inbound prompts shipped in dialer/telephony/media/ (raw G.711 mu-law, 8 kHz,
# mono, headerless, like safe_harbor.pcmu) with espeak-ng and sox from Debian.
# Run from the repository root: sh tools/make_inbound_prompts.sh
set -eu
out=dialer/telephony/media
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
say() {  # name, text
    espeak-ng -v en-us -s 150 -w "$tmp/$1.wav" "$2"
    sox "$tmp/$1.wav" -r 8000 -c 1 -t ul "$out/$1.pcmu" highpass 300 lowpass 3400 norm -3
}
say inbound_queue "Thank you for calling back. All our collectors are busy at the moment. Please stay on the line and we will be with you shortly."
say inbound_offer "We are sorry to keep you waiting. Press 1 and we will call you back. Press 2 to leave a message."
say inbound_voicemail "Please leave your message after the tone, then hang up."
# hold audio: a soft two-tone chime every four seconds (loops without a seam)
sox -n -r 8000 -c 1 "$tmp/chime.wav" synth 0.4 sine 660 synth 0.4 sine mix 880 fade 0.05 0.4 0.2 vol 0.25 pad 0 3.6
sox "$tmp/chime.wav" -r 8000 -c 1 -t ul "$out/inbound_hold.pcmu"
# the tone before the caller's message
sox -n -r 8000 -c 1 -t ul "$out/inbound_beep.pcmu" synth 0.3 sine 1000 vol 0.5
