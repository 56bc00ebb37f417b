// The performer page: what the monitor window shows (monitor/state.py), in big type, read-only.
"use strict";
import { connectLive, linkBanner } from "/static/live.js";

const performer = new URLSearchParams(location.search).get("performer");
const $ = (id) => document.getElementById(id);
const view = { link: "connecting", engine: "unknown", transport: "stopped", song: "", section: "", bar: null, beat: null,
  downbeat: false, beatAt: null, lyric: "", singer: "", nextLyric: "", nextSinger: "", breath: null, cue: null, audio: "ok",
  nextSong: "", setList: null };

function lines(data) {  // a performer's own lines where the engine sent them (state/position's parts)
  return performer && data.parts && data.parts[performer] ? data.parts[performer] : data;
}

function apply(topic, data, now) {
  if (topic === "status") view.engine = data.value || "unknown";
  else if (topic === "state/audio") view.audio = data.health || "ok";
  else if (topic === "state/transport") {
    view.transport = data.state || view.transport; view.song = data.song || view.song; view.nextSong = data.next_song ?? view.nextSong;
  } else if (topic === "state/setlist") view.setList = Array.isArray(data.songs) ? data.songs : null;
  else if (topic === "state/section") view.section = data.name || "";
  else if (topic === "state/lyric") {
    const singer = data.performer || "";
    if (performer && singer && singer !== performer) return;
    view.lyric = data.text || ""; view.singer = singer;
  } else if (topic === "state/position") {
    const own = lines(data);
    Object.assign(view, { bar: data.bar, beat: data.beat, downbeat: !!data.downbeat, beatAt: now,
      section: data.section ?? view.section, lyric: own.lyric ?? view.lyric, singer: own.lyric_performer || "",
      nextLyric: own.next_lyric ?? view.nextLyric, nextSinger: own.next_lyric_performer || "",
      breath: own.breath_in_beats ?? null, cue: data.next_cue || null });
  }
}

// What comes next (as the monitor window says it, monitor/state.py next_up): the set's standby song by
// number and title, marked while the song before it plays where it follows by itself (a segue: no GO, no
// pause between); from an engine without state/setlist, the next song's id.
function nextUp() {
  if (!view.setList) return view.nextSong || "";
  const standby = view.setList.find((song) => song.standby);
  if (!standby) return view.setList.length ? "end of the set" : "";
  const playing = view.setList.find((song) => song.playing);
  const segue = standby.follows && playing && playing.number + 1 === standby.number;
  return `${standby.number}. ${standby.title || standby.id}${segue ? " → follows" : ""}`;
}

function draw() {
  const now = performance.now();
  const banner = linkBanner(view.link, view.engine, view.transport, view.beatAt, now);
  $("banner").hidden = !banner;
  if (banner) { $("banner").textContent = banner.text; $("banner").className = `banner ${banner.level}`; }
  document.body.classList.toggle("stale", !!banner && banner.level === "bad");
  $("song").textContent = view.song || "—";
  $("section").textContent = view.section;
  $("who").textContent = performer || "";
  $("bar").textContent = view.bar ?? "–";
  $("beat").textContent = view.beat ?? "–";
  const lit = view.transport === "playing" && view.beatAt !== null && now - view.beatAt < 150;
  $("position").className = `position${lit ? (view.downbeat ? " downbeat" : " beat") : ""}`;
  $("lyric").textContent = view.lyric;
  $("singer").textContent = !performer && view.singer ? view.singer : "";
  $("next-lyric").textContent = view.nextLyric;
  $("next-singer").textContent = !performer && view.nextSinger ? `${view.nextSinger}: ` : "";
  $("breath").hidden = view.breath === null || view.transport !== "playing";
  $("breath").textContent = view.breath === 0 ? "BREATHE" : `breath in ${view.breath}`;
  const cue = view.cue && view.transport === "playing" ? view.cue : null;
  $("cue").textContent = cue ? `${cue.name} in ${Math.max(0, cue.in_s - (now - view.beatAt) / 1000).toFixed(1)} s` : "";
  $("audio").hidden = view.audio === "ok";
  const next = nextUp(), between = view.transport === "stopped" && !!next;
  document.body.classList.toggle("between", between);  // between songs: which number is next, before the last lyric
  $("up-next").hidden = !between;
  const played = next === "end of the set";
  $("up-next").textContent = between ? (played ? next : `next: ${next}`) : "";
  $("next-song").textContent = !between && next && !played ? `next song: ${next}` : "";
  requestAnimationFrame(draw);
}

connectLive((topic, data, now) => apply(topic, data, now), (link) => { view.link = link; });
requestAnimationFrame(draw);
