// vhuman viewer: plays a vhuman.media/1 stream from /media on this page's host.
//
// Timing: the first packet after a hello maps its pts to performance.now() + JITTER_MS;
// every video frame is drawn, and every audio chunk started, at its pts on that mapping.
// Packets arriving late push the mapping later (more buffer); a buffer that stays much
// larger than needed is trimmed, so latency stays near JITTER_MS plus the network.
(() => {
  "use strict";

  const JITTER_MS = 80;
  const TRIM_PERIOD_MS = 3000;
  const MAX_QUEUED_FRAMES = 30;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 8000;
  const KIND = { JPEG: 1, H264: 2, PCM: 3, OPUS: 4, MARKER: 5 };

  const $ = (id) => document.getElementById(id);
  const canvas = $("video");
  const ctx2d = canvas.getContext("2d", { alpha: false });
  const ui = {
    label: $("label"), live: $("live"), status: $("status"), unmute: $("unmute"),
    fps: $("fps"), latency: $("latency"), dropped: $("dropped"),
  };

  const stats = {
    connected: false,
    codec: null,
    label: null,
    packets: 0,
    framesDecoded: 0,
    framesDrawn: 0,
    framesDropped: 0,
    lastPts: null,
    fps: 0,
    latencyMs: null,
    resyncs: 0,
    reconnects: 0,
    audioChunksScheduled: 0,
    audioChunksLate: 0,
    audioContextState: "none",
    errors: [],
  };
  window.vhumanStats = stats;

  let ws = null;
  let hello = null;
  let generation = 0;        // bumps on every (re)connect; stale callbacks check it
  let backoff = BACKOFF_MIN_MS;
  let mapping = null;        // { pts0: µs, t0: ms on performance.now() }
  let minSlack = Infinity;   // smallest (due - arrival) since the last trim, ms
  let lastTrim = 0;
  let warmupUntil = 0;
  let frames = [];           // decoded frames waiting for their time, sorted by pts
  let decoder = null;        // WebCodecs VideoDecoder for h264
  let needKey = true;
  let audio = null;          // AudioContext
  let nextAudioTime = 0;
  const lateness = [];       // recent (draw time - arrival time) in ms, for the latency figure

  function setStatus(text) {
    ui.status.textContent = text || "";
    ui.status.hidden = !text;
  }

  function recordError(msg) {
    stats.errors.push(String(msg));
    if (stats.errors.length > 20) stats.errors.shift();
  }

  // ------------------------------------------------------------------ connection

  function connect() {
    const gen = ++generation;
    const url = new URL("media", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.search = "";
    setStatus(stats.reconnects ? "Reconnecting…" : "Connecting…");
    const sock = new WebSocket(url);
    sock.binaryType = "arraybuffer";
    ws = sock;
    sock.onmessage = (ev) => {
      if (gen !== generation) return;
      if (typeof ev.data === "string") onHello(ev.data);
      else onPacket(ev.data, performance.now(), gen);
    };
    sock.onclose = () => {
      if (gen !== generation) return;
      stats.connected = false;
      ui.live.hidden = true;
      resetPlayback();
      const wait = backoff;
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      setStatus(`Stream offline · retrying in ${Math.ceil(wait / 1000)} s`);
      stats.reconnects += 1;
      setTimeout(connect, wait);
    };
    sock.onerror = () => { /* onclose follows and handles the retry */ };
  }

  function onHello(text) {
    let h;
    try {
      h = JSON.parse(text);
    } catch (e) {
      recordError(`bad hello: ${e}`);
      ws.close(1002, "bad hello");
      return;
    }
    if (!h || h.protocol !== "vhuman.media/1" || !h.video) {
      recordError(`unsupported hello ${text.slice(0, 80)}`);
      ws.close(1002, "unsupported protocol");
      return;
    }
    hello = h;
    backoff = BACKOFF_MIN_MS;
    stats.connected = true;
    stats.codec = h.video.codec;
    stats.label = h.label || "";
    canvas.width = h.video.width;
    canvas.height = h.video.height;
    ui.label.textContent = h.label || "";
    ui.label.hidden = !h.label;
    ui.live.hidden = false;
    resetPlayback();
    if (h.video.codec === "h264" && !("VideoDecoder" in window)) {
      setStatus("This browser cannot decode H.264 (WebCodecs missing); try Chrome, Edge or Safari 16.4+");
    } else {
      setStatus("Waiting for video…");
    }
    if (h.audio && h.audio.codec === "pcm_s16le") ensureAudio();
  }

  function resetPlayback() {
    mapping = null;
    minSlack = Infinity;
    for (const f of frames) f.image.close();
    frames = [];
    needKey = true;
    nextAudioTime = 0;
    if (decoder && decoder.state !== "closed") decoder.close();
    decoder = null;
  }

  // ------------------------------------------------------------------ packets

  function dueMs(ptsUs) {
    return mapping.t0 + (ptsUs - mapping.pts0) / 1000;
  }

  function onPacket(buf, arrival, gen) {
    if (!hello || buf.byteLength < 16) return;
    const dv = new DataView(buf);
    if (dv.getUint8(0) !== 0x56 || dv.getUint8(1) !== 0x48 || dv.getUint8(2) !== 1) {
      recordError("bad packet header");
      return;
    }
    const kind = dv.getUint8(3);
    const flags = dv.getUint8(4);
    const pts = Number(dv.getBigInt64(8, true));
    const payload = new Uint8Array(buf, 16);
    stats.packets += 1;

    if (mapping === null) {
      mapping = { pts0: pts, t0: arrival + JITTER_MS };
      // The first packet often lands late (page start-up, socket warm-up); check the
      // buffer after one second instead of waiting a full trim period.
      lastTrim = arrival - TRIM_PERIOD_MS + 1000;
      warmupUntil = arrival + 250;  // a start-up burst would hide the excess slack
    }
    const slack = dueMs(pts) - arrival;
    if (slack < 0) {
      // Late: the network or the server fell behind. Move the whole timeline later.
      mapping.t0 += -slack + 10;
      stats.resyncs += 1;
      minSlack = Infinity;
    } else if (slack < minSlack && arrival > warmupUntil) {
      minSlack = slack;
    }
    if (arrival - lastTrim > TRIM_PERIOD_MS) {
      // Every packet in the window had more slack than the jitter budget: trim it.
      if (minSlack !== Infinity && minSlack > JITTER_MS + 25) {
        mapping.t0 -= minSlack - JITTER_MS;
        stats.resyncs += 1;
      }
      minSlack = Infinity;
      lastTrim = arrival;
    }

    if (kind === KIND.JPEG) {
      const blob = new Blob([payload], { type: "image/jpeg" });
      createImageBitmap(blob).then(
        (bmp) => {
          if (gen !== generation) { bmp.close(); return; }
          stats.framesDecoded += 1;
          enqueueFrame({ pts, image: bmp, arrival });
        },
        (e) => recordError(`jpeg decode: ${e}`),
      );
    } else if (kind === KIND.H264) {
      decodeH264(payload, pts, (flags & 1) !== 0, (flags & 2) !== 0, arrival, gen);
    } else if (kind === KIND.PCM) {
      scheduleAudio(payload, pts);
    } else if (kind === KIND.MARKER) {
      onMarker(payload, pts);
    }
  }

  function enqueueFrame(f) {
    let i = frames.length;
    while (i > 0 && frames[i - 1].pts > f.pts) i--;
    frames.splice(i, 0, f);
    while (frames.length > MAX_QUEUED_FRAMES) {
      frames.shift().image.close();
      stats.framesDropped += 1;
    }
  }

  // ------------------------------------------------------------------ H.264 (WebCodecs)

  function spsCodecString(annexb) {
    // avc1.PPCCLL from the SPS: profile_idc, constraint flags, level_idc.
    for (let i = 0; i + 7 < annexb.length; i++) {
      if (annexb[i] === 0 && annexb[i + 1] === 0 && annexb[i + 2] === 1 && (annexb[i + 3] & 0x1f) === 7) {
        const hex = (b) => b.toString(16).padStart(2, "0");
        return `avc1.${hex(annexb[i + 4])}${hex(annexb[i + 5])}${hex(annexb[i + 6])}`;
      }
    }
    return null;
  }

  function decodeH264(payload, pts, key, config, arrival, gen) {
    if (!("VideoDecoder" in window)) return;
    if (!decoder || decoder.state === "closed") {
      if (!(key && config)) { stats.framesDropped += 1; return; }
      const codec = spsCodecString(payload) || "avc1.42e01f";
      const arrivals = new Map();
      decoder = new VideoDecoder({
        output: (frame) => {
          if (gen !== generation) { frame.close(); return; }
          stats.framesDecoded += 1;
          const a = arrivals.get(frame.timestamp) ?? performance.now();
          arrivals.delete(frame.timestamp);
          enqueueFrame({ pts: frame.timestamp, image: frame, arrival: a });
        },
        error: (e) => {
          recordError(`h264 decode: ${e.message || e}`);
          needKey = true;
        },
      });
      decoder.arrivals = arrivals;
      // No description: the decoder then expects Annex B, which is what we send.
      decoder.configure({ codec, optimizeForLatency: true, hardwareAcceleration: "no-preference" });
      needKey = true;
    }
    if (needKey && !key) { stats.framesDropped += 1; return; }
    needKey = false;
    if (decoder.decodeQueueSize > 8) {
      // The decoder cannot keep up; wait for the next keyframe rather than lag.
      needKey = true;
      stats.framesDropped += 1;
      return;
    }
    decoder.arrivals.set(pts, arrival);
    try {
      decoder.decode(new EncodedVideoChunk({ type: key ? "key" : "delta", timestamp: pts, data: payload }));
    } catch (e) {
      recordError(`h264 decode: ${e.message || e}`);
      decoder.close();
      decoder = null;
    }
  }

  // ------------------------------------------------------------------ drawing

  let fpsCount = 0;
  let fpsSince = performance.now();

  function render(now) {
    if (mapping !== null && frames.length) {
      // The newest frame that is due; older due ones were superseded (late), not shown.
      let pick = -1;
      for (let i = 0; i < frames.length; i++) {
        if (dueMs(frames[i].pts) <= now) pick = i;
        else break;
      }
      if (pick >= 0) {
        for (let i = 0; i < pick; i++) {
          frames[i].image.close();
          stats.framesDropped += 1;
        }
        const f = frames[pick];
        frames = frames.slice(pick + 1);
        ctx2d.drawImage(f.image, 0, 0, canvas.width, canvas.height);
        f.image.close();
        stats.framesDrawn += 1;
        stats.lastPts = f.pts;
        fpsCount += 1;
        lateness.push(now - f.arrival);
        if (lateness.length > 30) lateness.shift();
        if (!ui.status.hidden && stats.connected) setStatus("");
      }
    }
    if (now - fpsSince >= 1000) {
      stats.fps = (fpsCount * 1000) / (now - fpsSince);
      fpsCount = 0;
      fpsSince = now;
      if (lateness.length) {
        const sorted = [...lateness].sort((a, b) => a - b);
        stats.latencyMs = Math.round(sorted[sorted.length >> 1]);
      }
      ui.fps.textContent = stats.fps.toFixed(1);
      ui.latency.textContent = stats.latencyMs === null ? "–" : String(stats.latencyMs);
      ui.dropped.textContent = String(stats.framesDropped);
      stats.audioContextState = audio ? audio.state : "none";
    }
    requestAnimationFrame(render);
  }

  // ------------------------------------------------------------------ audio (WebAudio)

  function ensureAudio() {
    if (!audio) {
      const AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) return;
      audio = new AC({ latencyHint: "interactive" });
      audio.onstatechange = updateUnmute;
    }
    if (audio.state === "suspended") audio.resume().catch(() => {}).finally(updateUnmute);
    updateUnmute();
  }

  function updateUnmute() {
    stats.audioContextState = audio ? audio.state : "none";
    ui.unmute.hidden = !(audio && audio.state === "suspended");
  }

  ui.unmute.addEventListener("click", () => {
    if (audio) audio.resume().then(updateUnmute, (e) => recordError(`audio resume: ${e}`));
  });

  function audioTimeFor(perfMs) {
    // Context time that will be heard at performance time perfMs.
    if (audio.getOutputTimestamp) {
      const ts = audio.getOutputTimestamp();
      if (ts.performanceTime > 0) return ts.contextTime + (perfMs - ts.performanceTime) / 1000;
    }
    return audio.currentTime + (perfMs - performance.now()) / 1000 - (audio.outputLatency || 0);
  }

  // Audio scheduled but not yet heard, so a "clear" marker can silence a cut line.
  let scheduled = [];

  function onMarker(payload, pts) {
    let m = null;
    try { m = JSON.parse(new TextDecoder().decode(payload)); } catch (e) { return; }
    if (!m || m.marker !== "clear") return;
    // The producer cut the line at pts: drop what this page still holds of it.
    const keep = [];
    for (const s of scheduled) {
      if (s.pts >= pts) { try { s.src.stop(); } catch (e) { /* already ended */ } }
      else keep.push(s);
    }
    scheduled = keep;
    nextAudioTime = 0;
    stats.audioCleared = (stats.audioCleared || 0) + 1;
  }

  function scheduleAudio(payload, pts) {
    if (!audio || audio.state !== "running" || !hello.audio) return;
    const rate = hello.audio.rate;
    const n = payload.byteLength >> 1;
    if (n === 0) return;
    const dv = new DataView(payload.buffer, payload.byteOffset, n * 2);
    const buffer = audio.createBuffer(1, n, rate);
    const ch = buffer.getChannelData(0);
    for (let i = 0; i < n; i++) ch[i] = dv.getInt16(i * 2, true) / 32768;
    let start = audioTimeFor(dueMs(pts));
    // Chunks that follow on closely are joined end to end: no clicks from rounding.
    if (Math.abs(start - nextAudioTime) < 0.015) start = nextAudioTime;
    if (start < audio.currentTime + 0.005) {
      stats.audioChunksLate += 1;
      return;
    }
    const src = audio.createBufferSource();
    src.buffer = buffer;
    src.connect(audio.destination);
    src.start(start);
    scheduled.push({ src, pts });
    src.onended = () => { scheduled = scheduled.filter((s) => s.src !== src); };
    nextAudioTime = start + buffer.duration;
    stats.audioChunksScheduled += 1;
  }

  requestAnimationFrame(render);
  connect();
})();
