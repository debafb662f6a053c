"""The official openai client against the worker's API: streams a chat completion and a completion,
asks for logprobs and for a model that does not exist, and prints what it received as one JSON line.

Usage: client_check.py BASE_URL MODEL API_KEY   (exit 3 when the openai package is missing)
"""
import json
import sys

try:
    import openai
except ImportError:
    print("the openai package is not installed for " + sys.executable, file=sys.stderr)
    sys.exit(3)

base_url, model, api_key = sys.argv[1], sys.argv[2], sys.argv[3]
client = openai.OpenAI(base_url=base_url + "/v1", api_key=api_key, max_retries=0, timeout=30)
out = {"version": openai.__version__}

# A streamed chat completion with usage.
chat = {"role": None, "text": "", "finish_reason": None, "usage": None, "chunks": 0}
stream = client.chat.completions.create(
    model=model, messages=[{"role": "user", "content": "Say hello"}], max_tokens=8, stream=True, temperature=0,
    stream_options={"include_usage": True})
for chunk in stream:
    chat["chunks"] += 1
    if chunk.usage is not None:
        chat["usage"] = chunk.usage.model_dump()
    for choice in chunk.choices:
        if choice.delta.role:
            chat["role"] = choice.delta.role
        if choice.delta.content:
            chat["text"] += choice.delta.content
        if choice.finish_reason:
            chat["finish_reason"] = choice.finish_reason
out["chat_stream"] = chat

# A streamed completion.
completion = {"text": "", "finish_reason": None}
for chunk in client.completions.create(model=model, prompt="Once upon", max_tokens=5, stream=True):
    for choice in chunk.choices:
        completion["text"] += choice.text
        if choice.finish_reason:
            completion["finish_reason"] = choice.finish_reason
out["completion_stream"] = completion

# Whole responses, with log probabilities.
response = client.chat.completions.create(
    model=model, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    max_tokens=3, logprobs=True, top_logprobs=2)
out["chat"] = {"text": response.choices[0].message.content, "finish_reason": response.choices[0].finish_reason,
               "logprob_tokens": [t.token for t in response.choices[0].logprobs.content],
               "top": [len(t.top_logprobs) for t in response.choices[0].logprobs.content],
               "usage": response.usage.model_dump()}
response = client.completions.create(model=model, prompt="Once upon", max_tokens=20, logprobs=2, stop=["!"])
out["completion"] = {"text": response.choices[0].text, "finish_reason": response.choices[0].finish_reason,
                     "tokens": response.choices[0].logprobs.tokens,
                     "text_offset": response.choices[0].logprobs.text_offset}

# Errors arrive as the client's exceptions.
try:
    client.completions.create(model="no-such-model", prompt="x", max_tokens=1)
    out["not_found"] = None
except openai.NotFoundError as e:
    out["not_found"] = e.body
try:
    client.completions.create(model=model, prompt="x", max_tokens=1, n=3)
    out["bad_request"] = None
except openai.BadRequestError as e:
    out["bad_request"] = e.body

print(json.dumps(out))
