#!/usr/bin/env bash
# Regenerates the audio shipped with Switchyard: spoken prompts (espeak-ng),
# the 1 kHz test tone and the default music-on-hold class (sox synth).
#
# Output is reproducible: espeak-ng is deterministic, and sox runs with -R
# (fixed random seed, so "pluck" noise is the same on every run) and -D (no
# dither). Running it twice on the same tool versions gives identical files.
#
# Usage: media/generate.sh [media-dir]      (default: the folder of this script)
# Needs: espeak-ng, sox.  Env: VOICE (default en-us), SPEED (words/min, 150).
set -euo pipefail

media="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
voice="${VOICE:-en-us}"
speed="${SPEED:-150}"
rate=16000

for tool in espeak-ng sox; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "generate.sh: $tool is required" >&2
        exit 1
    fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# sox with repeatable randomness, no dither, errors only.
sx() { sox -R -D -V1 "$@"; }
# Output format of every prompt and track: 16 kHz mono signed 16-bit.
out_fmt=(-r "$rate" -c 1 -b 16 -e signed-integer)

# speak FILE TEXT: renders TEXT, trims leading/trailing silence, converts to
# 16 kHz, normalises to -3 dBFS peak and pads 50 ms before / 150 ms after.
speak() {
    local file="$1" text="$2"
    mkdir -p "$(dirname "$file")"
    espeak-ng -v "$voice" -s "$speed" -w "$tmp/raw.wav" -- "$text"
    sx "$tmp/raw.wav" "${out_fmt[@]}" "$file" \
        silence 1 0.01 0.1% reverse silence 1 0.01 0.1% reverse \
        rate -v "$rate" norm -3 pad 0.05 0.15
    echo "  $file"
}

echo "prompts (voice $voice):"
prompts="$media/prompts/en"
speak "$prompts/welcome.wav" "Welcome to Switchyard."
speak "$prompts/invalid.wav" "That is not a valid entry. Please try again."
speak "$prompts/please-hold.wav" "Please hold while we connect your call."
speak "$prompts/vm-greeting.wav" \
    "The person you are calling is not available. Please leave a message after the tone."
speak "$prompts/you-are-caller.wav" "You are caller number"
speak "$prompts/in-queue.wav" "in the queue"

numbers=(zero one two three four five six seven eight nine ten eleven twelve
    thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty)
for n in "${!numbers[@]}"; do
    speak "$prompts/digits/$n.wav" "${numbers[$n]}"
done
tens=([3]=thirty [4]=forty [5]=fifty [6]=sixty [7]=seventy [8]=eighty [9]=ninety)
for t in "${!tens[@]}"; do
    speak "$prompts/digits/${t}0.wav" "${tens[$t]}"
done
speak "$prompts/digits/hundred.wav" "hundred"

# Test tone: 2 s of 1000 Hz at -10 dBFS peak, 8 kHz (tests check the
# frequency heard on a call against it).
sx -n -r 8000 -c 1 -b 16 -e signed-integer "$prompts/tone-1khz.wav" \
    synth 2 sine 1000 gain -10
echo "  $prompts/tone-1khz.wav"

# chord FILE SECONDS VOICE NOTE...: one chord, notes started 60 ms apart
# (a strum), mixed to mono.
chord() {
    local file="$1" secs="$2" kind="$3"
    shift 3
    local specs=() delays=() d=0
    for note in "$@"; do
        specs+=("$kind" "$note")
        delays+=("$d")
        d="$(echo "$d + 0.06" | bc)"
    done
    sx -n "${out_fmt[@]}" "$file" synth "$secs" "${specs[@]}" \
        delay "${delays[@]}" remix - fade q 0.05 "$secs" 0.6 gain -n -6
}

# track FILE CHORD-FILES...: joins chords, fades in and out, adds a little
# room. (The fade must come before reverb: after it, sox misjudges "-0".)
track() {
    local file="$1"
    shift
    mkdir -p "$(dirname "$file")"
    sx "$@" "${out_fmt[@]}" "$file" fade q 0.5 -0 1.5 reverb 40 50 70 gain -n -6
    echo "  $file"
}

echo "music on hold (class default):"
moh="$media/moh/default"
# 1: plucked strums, C - Am - F - G, twice round at 1.5 s a chord (12 s).
i=0
for rep in 1 2; do
    for notes in "C3 G3 C4 E4" "A2 E3 A3 C4" "F2 C3 F3 A3" "G2 D3 G3 B3"; do
        # shellcheck disable=SC2086 # the notes are meant to split
        chord "$tmp/a$i.wav" 1.5 pluck $notes
        i=$((i + 1))
    done
done
track "$moh/01-strummed.wav" "$tmp"/a{0..7}.wav
# 2: soft sine pads, Dm7 - G7 - Cmaj7 - Am7 at 3 s a chord (12 s).
i=0
for notes in "D3 F3 A3 C4" "G2 F3 B3 D4" "C3 E3 G3 B3" "A2 G3 C4 E4"; do
    # shellcheck disable=SC2086
    chord "$tmp/b$i.wav" 3 sine $notes
    sx "$tmp/b$i.wav" "$tmp/bt$i.wav" tremolo 3 25
    i=$((i + 1))
done
track "$moh/02-pads.wav" "$tmp"/bt{0..3}.wav

echo "done."
