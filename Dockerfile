# voicebot: the SIP call-center bot. Models ship inside the pinned pip packages; nothing downloads at run time.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VOICEBOT_CACHE=/var/lib/voicebot/cache \
    VOICEBOT_CRM_URL=sqlite:////var/lib/voicebot/voicebot.db

WORKDIR /app
# CPU-only torch from PyTorch's own index: the default PyPI build drags in several GB of CUDA.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml constraints.txt README.md ./
COPY voicebot ./voicebot
COPY telephony ./telephony
COPY asr ./asr
COPY tts ./tts
COPY dialogue ./dialogue
COPY crm_store ./crm_store
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --uid 10001 --create-home --home-dir /var/lib/voicebot voicebot
COPY audio_fixtures ./audio_fixtures

USER 10001
# SIP signalling; RTP uses the UDP ports pjsip picks (publish a range or run with --network host).
EXPOSE 5060/udp 5060/tcp
ENTRYPOINT ["voicebot"]
CMD ["serve", "--bind", "0.0.0.0", "--port", "5060"]
