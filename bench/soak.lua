-- wrk script of the soak benchmark (bench/soak.sh): each wrk thread has one
-- keep-alive connection, so its requests and answers alternate and every
-- answer is counted against the kind of request that asked for it.
--
--   wrk -t T -c T -s bench/soak.lua URL -- BODY_DIR RATE
-- RATE: requests/s over all threads (0: as fast as the server answers).
-- Thread i owns device soak-dev-i and space soak-i (bench/soak_setup.py);
-- after OBS_CYCLE observation posts it deletes soak-i and registers it
-- again, so the stored data stays bounded however long the run is.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
int clock_gettime(int clk, soak_timespec *ts);
]]
local ts = ffi.new("soak_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local OBS_CYCLE = 25 -- observation posts (4 observations each) per space life

-- The mix, as a repeating schedule: name, weight. Each thread walks it from
-- its own offset, so the kinds are spread over time and threads.
local MIX = {
  {"estimate", 4}, {"space_estimate", 4}, {"batch_estimate", 1},
  {"device_put", 1}, {"lut_csv", 1}, {"lut_json", 1},
  {"observations", 3}, {"surrogate", 1}, {"screen", 1},
  {"get_devices", 1}, {"get_health", 1}, {"get_metrics", 1},
}
-- Answers other than 2xx that a kind may get by design: a space that was
-- just registered again has no surrogate until its first refit is done
-- (404 no model yet; 409 screening without a model).
local EXPECTED = {surrogate = {[404] = true}, screen = {[404] = true, [409] = true}}

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local function slurp(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. path)
  local s = f:read("*a")
  f:close()
  return s
end

local bodies, schedule, pos, interval, next_t, pending, obs_posts
local JSON = {["Content-Type"] = "application/json"}
local CSV = {["Content-Type"] = "text/csv"}
counts, errors, statuses = {}, {}, ""

function init(args)
  local dir, rate = args[1], tonumber(args[2] or "0")
  local nthreads = tonumber(args[3] or "1")
  bodies = {}
  for _, n in ipairs({"estimate.json", "space_one.json", "space_batch.json", "lut.csv", "lut.json",
                      "device.json", "screen.json", "space_def_" .. id .. ".json"}) do
    bodies[n] = slurp(dir .. "/" .. n)
  end
  schedule = {}
  for _, kw in ipairs(MIX) do
    for _ = 1, kw[2] do table.insert(schedule, kw[1]) end
  end
  pos = (id * 7) % #schedule
  interval = rate > 0 and nthreads / rate or 0
  next_t = now()
  obs_posts = 0
  for _, kw in ipairs(MIX) do counts[kw[1]], errors[kw[1]] = 0, 0 end
  counts.space_delete, errors.space_delete, counts.space_create, errors.space_create = 0, 0, 0, 0
  math.randomseed(id + 1)
end

local function observation_body()
  local obs = {}
  for i = 1, 4 do
    local g = {math.random(0, 3), math.random(0, 2), math.random(0, 2), math.random(0, 3), math.random(0, 1)}
    local v = 0.4 + 0.05 * g[1] + 0.03 * g[2] - 0.01 * g[3] + 0.02 * g[4] + 0.01 * g[5] + 0.01 * math.random()
    obs[i] = string.format('{"genome":[%d,%d,%d,%d,%d],"metric":"miou","value":%.4f}',
                           g[1], g[2], g[3], g[4], g[5], v)
  end
  return '{"observations":[' .. table.concat(obs, ",") .. ']}'
end

local function build(kind)
  local space, dev = "/v1/spaces/soak-" .. id, "/v1/devices/soak-dev-" .. id
  if kind == "estimate" then return wrk.format("POST", "/v1/estimate", JSON, bodies["estimate.json"])
  elseif kind == "space_estimate" then
    return wrk.format("POST", "/v1/spaces/deeplabv3plus-mobilenetv2/estimate", JSON, bodies["space_one.json"])
  elseif kind == "batch_estimate" then
    return wrk.format("POST", "/v1/spaces/deeplabv3plus-mobilenetv2/estimate", JSON, bodies["space_batch.json"])
  elseif kind == "device_put" then return wrk.format("PUT", dev, JSON, bodies["device.json"])
  elseif kind == "lut_csv" then return wrk.format("POST", dev .. "/lut?mode=replace", CSV, bodies["lut.csv"])
  elseif kind == "lut_json" then return wrk.format("POST", dev .. "/lut", JSON, bodies["lut.json"])
  elseif kind == "observations" then return wrk.format("POST", space .. "/observations", JSON, observation_body())
  elseif kind == "surrogate" then return wrk.format("GET", space .. "/surrogate?metric=miou")
  elseif kind == "screen" then return wrk.format("POST", space .. "/screen", JSON, bodies["screen.json"])
  elseif kind == "space_delete" then return wrk.format("DELETE", space)
  elseif kind == "space_create" then
    return wrk.format("POST", "/v1/spaces", JSON, bodies["space_def_" .. id .. ".json"])
  elseif kind == "get_devices" then return wrk.format("GET", "/v1/devices")
  elseif kind == "get_health" then return wrk.format("GET", "/v1/health")
  else return wrk.format("GET", "/metrics") end
end

function request()
  if obs_posts >= OBS_CYCLE then
    pending, obs_posts = "space_delete", -1
  elseif obs_posts < 0 then
    pending, obs_posts = "space_create", 0
  else
    pos = pos % #schedule + 1
    pending = schedule[pos]
    if pending == "observations" then obs_posts = obs_posts + 1 end
  end
  return build(pending)
end

function delay()
  if interval == 0 then return 0 end
  local t = now()
  next_t = next_t + interval
  if next_t < t - 1 then next_t = t end -- fell behind by over a second: do not burst
  return next_t > t and (next_t - t) * 1000 or 0
end

function response(status, headers, body)
  local k = pending
  counts[k] = counts[k] + 1
  if status >= 300 and not (EXPECTED[k] and EXPECTED[k][status]) then
    errors[k] = errors[k] + 1
    if #statuses < 2000 then
      statuses = statuses .. string.format("%s %d %s\n", k, status, string.sub(body or "", 1, 160))
    end
  end
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local total, agg, err = {}, 0, 0
  for _, t in ipairs(threads) do
    local c, e = t:get("counts"), t:get("errors")
    for k, v in pairs(c) do
      total[k] = total[k] or {0, 0}
      total[k][1] = total[k][1] + v
      total[k][2] = total[k][2] + e[k]
    end
    io.stderr:write(t:get("statuses"))
  end
  local names = {}
  for k in pairs(total) do table.insert(names, k) end
  table.sort(names)
  for _, k in ipairs(names) do
    io.write(string.format("kind %-16s %9d requests %9.1f req/s %6d errors\n", k, total[k][1],
                           total[k][1] / secs, total[k][2]))
    agg, err = agg + total[k][1], err + total[k][2]
  end
  local s = summary.errors
  io.write(string.format("total %d requests %.1f req/s %.2f s unexpected %d connect %d read %d write %d timeout %d\n",
                         agg, agg / secs, secs, err, s.connect, s.read, s.write, s.timeout))
  io.write(string.format("latency p50 %.2f ms p99 %.2f ms max %.2f ms\n", latency:percentile(50) / 1000,
                         latency:percentile(99) / 1000, latency.max / 1000))
end
