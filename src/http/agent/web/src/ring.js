// A ring sound made in the page (Web Audio): 440 + 480 Hz, two seconds on, four off.
// Nothing is downloaded. Failures (no audio device, autoplay refused) are silent: the
// ringing card is what matters.

export class Ringer {
  constructor() {
    this.ctx = null;
    this.timer = null;
    this.nodes = [];
  }

  /** Call from a user gesture (the sign-in click) so a later ring may play. */
  prime() {
    try {
      if (!this.ctx) this.ctx = new AudioContext();
      if (this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
    } catch {
      this.ctx = null;
    }
  }

  start() {
    if (this.timer) return;
    this.prime();
    if (!this.ctx) return;
    const burst = () => this._burst(2.0);
    burst();
    this.timer = setInterval(burst, 6000);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const n of this.nodes) {
      try {
        n.stop();
      } catch {
        /* already stopped */
      }
    }
    this.nodes = [];
  }

  _burst(seconds) {
    const ctx = this.ctx;
    if (!ctx) return;
    const t0 = ctx.currentTime;
    const gain = ctx.createGain();
    gain.gain.setValueAtTime(0, t0);
    gain.gain.linearRampToValueAtTime(0.08, t0 + 0.03);
    gain.gain.setValueAtTime(0.08, t0 + seconds - 0.05);
    gain.gain.linearRampToValueAtTime(0, t0 + seconds);
    gain.connect(ctx.destination);
    this.nodes = [];
    for (const f of [440, 480]) {
      const osc = ctx.createOscillator();
      osc.frequency.value = f;
      osc.connect(gain);
      osc.start(t0);
      osc.stop(t0 + seconds);
      this.nodes.push(osc);
    }
  }
}
