-- Argo CD health check of a MoEModel (moe.dev/v1alpha1), from the status the operator writes:
-- Healthy once Ready=True; Degraded when a worker is lost (Degraded=True), the model failed
-- (phase Failed) or Ready's reason is one the model cannot leave without a change to its spec or
-- data; otherwise Progressing (a spec change the operator has not reconciled yet, workers
-- starting, placement solving, the first rollout). A rebalance of a serving model keeps it
-- Healthy: it serves on while the new placement rolls out. Lua 5.1, as Argo CD runs it.
local hs = {}

-- Ready reasons that no wait fixes: the spec, its initial statistics or its pinned revision must
-- change (the operator's Reasons.FAILED).
local failures = {
  InvalidSpec = true,
  InitialStatisticsInvalid = true,
  PinnedRevisionMissing = true,
}

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator"
  return hs
end

-- A status older than the spec says nothing about the spec (e.g. one that fixes an InvalidSpec).
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile generation " .. generation
  return hs
end

local conditions = {}
if status.conditions ~= nil then
  for _, c in ipairs(status.conditions) do
    conditions[c.type] = c
  end
end
local ready = conditions["Ready"]
local readyMessage = ""
if ready ~= nil and ready.message ~= nil then
  readyMessage = ready.message
end

local degraded = conditions["Degraded"]
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = degraded.message or readyMessage
  return hs
end
if status.phase == "Failed" or (ready ~= nil and ready.status ~= "True" and failures[ready.reason]) then
  hs.status = "Degraded"
  hs.message = readyMessage
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = readyMessage
  return hs
end

hs.status = "Progressing"
if ready ~= nil then
  hs.message = ready.reason .. ": " .. readyMessage
else
  hs.message = "Waiting for the operator"
end
return hs
