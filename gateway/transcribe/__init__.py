"""Gateway transcription: verified badge clips in, timed Mandarin transcripts out.

Public API (what `gateway run`, the demo and the compliance checks call):

```python
from gateway.transcribe import Transcriber, TranscribeSettings, EngineSettings

tr = Transcriber(TranscribeSettings(engine=EngineSettings(model_dir=None, language="zh")))
t = tr.transcribe(session_dir)      # a folder of clips, a list of clip paths, or one WAV
t.to_json()                         # dict: text, segments[start, end, text, wall_start, …],
                                    #       clips (hash, status), gaps, problems, model, options
t.to_vtt()                          # WebVTT text
```

- `Transcriber` loads Whisper once (lazily, on the first transcription) and serves any
  number of sessions; `Transcriber(engine=load_engine(...))` shares one loaded model.
- `transcribe_session(source, settings)` is the one-shot form.
- `SessionTranscript` (`.text`, `.segments`, `.clips`, `.gaps`, `.problems`,
  `.to_json()`, `.to_json_text()`, `.to_vtt()`); `Segment`/`Word` times are seconds
  from the session's start; `to_json()` adds wall-clock times from each clip's clock.
- `decode_wav(path)` → `DecodedAudio` (16 kHz mono int16) for IMA ADPCM and PCM WAVs.
- `check_session_clips(files)` / `check_spool_clip(path)` → hash, chain, gaps, recovered clips.
- Errors: `TranscribeError` base; `NotAudioError`, `UnsupportedAudioError`,
  `CorruptAudioError`, `TruncatedAudioError` (all `AudioError`), `ModelUnavailableError`,
  `VocabularyError`. Each has `.reason` (one line) and `.path`.

Heavy libraries (faster-whisper, CTranslate2, webrtcvad, zhconv) load on first use.
"""

from gateway.transcribe.decode import DecodedAudio, decode_wav
from gateway.transcribe.engine import EngineSettings, WhisperEngine, load_engine, to_simplified
from gateway.transcribe.errors import (
    AudioError,
    CorruptAudioError,
    ModelUnavailableError,
    NotAudioError,
    TranscribeError,
    TruncatedAudioError,
    UnsupportedAudioError,
)
from gateway.transcribe.pipeline import Piece, PipelineSettings, transcribe_pieces
from gateway.transcribe.segment import Segment, Word
from gateway.transcribe.session import Transcriber, TranscribeSettings, transcribe_session
from gateway.transcribe.transcript import SessionTranscript
from gateway.transcribe.vad import VadSettings, speech_regions
from gateway.transcribe.verify import (
    ClipCheck,
    Gap,
    SessionCheck,
    check_session_clips,
    check_spool_clip,
)
from gateway.transcribe.vocabulary import Vocabulary, VocabularyError, load_vocabulary

__all__ = [
    "AudioError",
    "ClipCheck",
    "CorruptAudioError",
    "DecodedAudio",
    "EngineSettings",
    "Gap",
    "ModelUnavailableError",
    "NotAudioError",
    "Piece",
    "PipelineSettings",
    "Segment",
    "SessionCheck",
    "SessionTranscript",
    "TranscribeError",
    "TranscribeSettings",
    "Transcriber",
    "TruncatedAudioError",
    "UnsupportedAudioError",
    "VadSettings",
    "Vocabulary",
    "VocabularyError",
    "WhisperEngine",
    "Word",
    "check_spool_clip",
    "check_session_clips",
    "decode_wav",
    "load_engine",
    "load_vocabulary",
    "speech_regions",
    "to_simplified",
    "transcribe_pieces",
    "transcribe_session",
]
