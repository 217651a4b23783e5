-- wrk script: pre-signed Twilio webhooks, one per line of a file ("signature<TAB>form body"),
-- sent at a fixed offered rate (or as fast as possible with rate 0).
-- Arguments after `--`: file, rate (requests/s over all threads; 0 = closed loop), threads.
-- Each thread claims send slots on an absolute schedule, so while a connection is free a
-- request leaves at its time whatever the latency of the others (open loop). When every
-- connection is busy, requests leave late: the achieved rate then falls below the offered one.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } advisor_bot_timespec;
int clock_gettime(int clock_id, advisor_bot_timespec *tp);
]]
local clock = ffi.new("advisor_bot_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local thread_count = 0
function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
end

local prepared = {}
local position = 0
local interval_ms = 0
local next_slot = nil

function init(args)
  local file, rate, threads = args[1], tonumber(args[2]), tonumber(args[3])
  local line_number = 0
  for line in io.lines(file) do
    if line_number % threads == thread_id then
      local signature, body = line:match("^([^\t]*)\t(.*)$")
      prepared[#prepared + 1] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = signature,
      }, body)
    end
    line_number = line_number + 1
  end
  if rate > 0 then
    interval_ms = 1000 * threads / rate
  end
end

function request()
  position = position + 1
  if position > #prepared then
    position = 1 -- only reached if the file was too short: repeats are acknowledged duplicates
  end
  return prepared[position]
end

function delay()
  if interval_ms == 0 then
    return 0
  end
  local now = now_ms()
  if next_slot == nil then
    next_slot = now
  end
  local slot = next_slot
  next_slot = next_slot + interval_ms
  if slot <= now then
    return 0
  end
  return slot - now
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "errors_status": %d, "errors_connect": %d, "errors_read": %d, ' ..
    '"errors_write": %d, "errors_timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
