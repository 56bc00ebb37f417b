// The pages' one link to the show: the MQTT broker over WebSockets (mqtt.js, vendored). Reconnects by
// itself; tells the page when it is connected, when the engine is offline and when its state is stale.
"use strict";

export async function connectLive(onMessage, onLink) {
  const config = await (await fetch("/config.json", { cache: "no-store" })).json();
  const host = config.broker.host || location.hostname;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${host}:${config.broker.port}${config.broker.path}`;
  const prefix = config.prefix;
  const client = window.mqtt.connect(url, {
    reconnectPeriod: 1000, connectTimeout: 4000, keepalive: 5, clean: true,
    clientId: `showcontrol-web-${Math.random().toString(16).slice(2, 10)}`,
  });
  client.on("connect", () => {
    client.subscribe([`${prefix}status`, `${prefix}state/#`, `${prefix}reply`], { qos: 0 });
    onLink("connected");
  });
  client.on("reconnect", () => onLink("reconnecting"));
  client.on("offline", () => onLink("reconnecting"));
  client.on("close", () => onLink("reconnecting"));
  client.on("message", (topic, payload) => {
    if (!topic.startsWith(prefix)) return;
    const text = new TextDecoder().decode(payload);
    let data = {};
    try { data = text && text[0] === "{" ? JSON.parse(text) : { value: text }; } catch { return; }
    onMessage(topic.slice(prefix.length), data, performance.now());
  });
  return {
    prefix,
    send(command, args, token) {
      const id = `${Date.now().toString(36)}-${Math.random().toString(16).slice(2, 6)}`;
      client.publish(`${prefix}command`, JSON.stringify({ command, args, token, id }), { qos: 1 });
      return id;
    },
  };
}

// What to say across the top: the link, the engine, a stale state (nothing heard while playing).
export function linkBanner(link, engine, transport, lastBeatMs, nowMs, staleAfterMs = 3000) {
  if (link !== "connected") return { text: "RECONNECTING to the show…", level: "bad" };
  if (engine === "offline") return { text: "OFFLINE: the show is not running", level: "bad" };
  if (transport === "playing" && lastBeatMs !== null && nowMs - lastBeatMs > staleAfterMs) {
    return { text: `STALE: nothing for ${Math.round((nowMs - lastBeatMs) / 1000)} s`, level: "bad" };
  }
  if (transport === "paused") return { text: "PAUSED", level: "warn" };
  return null;
}
