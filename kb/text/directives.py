"""Is a sentence an instruction to an assistant (or a reader) rather than information? A small rule classifier.

Prompt injection in a document reads like nothing else in company text: it *addresses* a machine or a reader
("Note for the assistant:", "If you are a language model", "Dear bot,") and tries to control an answer
("reply", "say", "include ... in your answer", "ignore the previous instructions"). Phrase lists miss a
paraphrase; this scores the structure instead, one language at a time with that language's Snowball stemmer
(the one BM25 uses), so inflected forms match ("ignoriere"/"ignorieren", "réponds"/"répondre"):

==========================  =======  ==========================================================================
feature                     weight   fires when
==========================  =======  ==========================================================================
addresses an AI             2.5      an AI/assistant word in an address frame: after "for/to/dear/hey/
                                     attention" (4 words), in a short preamble before ":", after "you", or with
                                     a deontic modal after it ("the assistant should", "AI systems ... are
                                     instructed"); a human assistant ("assistant manager", "teaching
                                     assistants") never counts
mentions an AI              1.0      such a word without a frame ("our AI strategy")
addresses a reader          1.5      a reader word in an address frame ("Dear reader,")
override of instructions    3.0      override verb + instructions/rules/prompt/"everything", imperative or
                                     addressed to an AI (1.5 otherwise: "employees who ignore the rules")
override of what came       1.5      imperative override verb + previous/above/earlier (no instruction noun)
chain                       1.0      an imperative override and an imperative answer verb ("... and say")
answer verb                 0.75     reply, say, tell, state, output, reveal, include, ...
output noun                 0.5      user, question, answer, response, conversation, ...
asked-then-answer           0.75     an ask verb ("when asked") with an answer verb
imperative                  0.5      a clause starts with an override or answer verb (not negated)
second person               0.25     you, your, du, vous, ...
self-reference              1.0      "this document/text/page" with an answer verb
known injection phrase      1.5      "reply only", "system prompt", "jailbreak", "developer mode", ...
==========================  =======  ==========================================================================

A sentence is a directive at a score of :data:`THRESHOLD` (3.0) or more in any language. Lexicons cover the
languages in :data:`LANGUAGES` (18 of the Snowball stemmer's 34; the universal AI words — AI, LLM, GPT,
chatbot, bot — and the known phrases apply to every text). ``tests/security/test_directives.py`` measures it on
a held-out list of paraphrases and of benign company sentences written before these rules.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable

THRESHOLD = 3.0
_TOKEN = re.compile(r"\w+")
_CLAUSE_BREAK = re.compile(r"[,;:()\[\]—–\n]|\s-\s")
_PREAMBLE_TOKENS = 8
_ADDRESS_WINDOW = 4
_MODAL_WINDOW = 6
_PHRASES = re.compile(r"\b(reply|respond|answer|output|say) (only|with only|exactly)\b|\bsystem (prompt|message)\b|"
                      r"\bjailbreak|\bdeveloper mode\b|\bprompt injection\b|\bnew instructions\b|"
                      r"\bas an? (ai|assistant|language model)\b", re.I)

# AI words every language uses as they are ("ai" is not one: it is a preposition in Italian)
_UNIVERSAL_AI = "llm llms gpt chatgpt chatbot chatbots bot bots copilot claude gemini genai"

# per language: the words of each feature, space-separated ("a_b" is a phrase of two words), stemmed when loaded
_WORDS: dict[str, dict[str, str]] = {
    "english": {
        "ai": "ai language_model automated_system automated_assistant virtual_assistant virtual_agent ai_system "
              "ai_model",
        "assistant": "assistant assistants",
        "human": "manager director professor editor secretary principal coach accountant engineer controller head "
                 "administrative executive personal teaching research dental legal medical office shop sales lab "
                 "store project hr nursing care pharmacy",
        "address": "for to dear hey hi hello attention attn",
        "you": "you your yourself",
        "override": "ignore disregard forget override bypass",
        "prior": "instruction instructions rules guidance guidelines directions prompt context everything told",
        "weak": "previous above earlier prior before",
        "answer": "answer reply respond say tell state mention output print write include reveal disclose repeat "
                  "share claim pretend summarise summarize inform",
        "output": "user users question questions answer answers response responses reply replies output "
                  "conversation chat summary",
        "ask": "ask asks asked asking",
        "modal": "must should shall instructed required need needs has have",
        "skip": "please always now just simply only then also kindly do immediately instead",
        "negation": "not never don't no",
        "conj": "and then but",
        "reader": "reader readers",
        "self": "document text page passage file",
        "this": "this these",
    },
    "german": {
        "ai": "ai ki sprachmodell sprachmodelle künstliche_intelligenz assistenzsystem",
        "assistant": "assistent assistenten assistentin",
        "human": "geschäftsführung geschäftsleitung vorstand leitung professor arzt ärztin",
        "address": "für an liebe lieber hallo hey achtung",
        "you": "du dich dir dein deine deinen ihr euch",
        "override": "ignoriere ignorieren ignoriert vergiss vergessen missachte missachten übergehe",
        "prior": "anweisung anweisungen anleitung regeln vorgaben instruktionen prompt kontext alles",
        "weak": "vorherige vorherigen bisherigen obigen früheren",
        "answer": "antworte antworten beantworte beantworten sage sag sagen schreibe schreib schreiben gib geben "
                  "nenne nennen erwähne erwähnen gebe teile verrate verraten wiederhole behaupte",
        "output": "nutzer benutzer frage fragen antwort antworten gespräch chat zusammenfassung",
        "ask": "fragt frage gefragt fragen",
        "modal": "muss müssen soll sollen sollte angewiesen",
        "skip": "bitte immer nun jetzt nur einfach dann auch",
        "negation": "nicht nie niemals kein keine",
        "conj": "und dann aber",
        "reader": "leser leserin",
        "self": "dokument text seite abschnitt datei",
        "this": "dieses diesen dieser diese",
    },
    "french": {
        "ai": "ia modèle_de_langage intelligence_artificielle agent_conversationnel",
        "assistant": "assistant assistante assistants",
        "human": "direction directeur professeur administratif administrative maternelle social sociale",
        "address": "pour à au cher chère bonjour attention",
        "you": "tu te toi ton ta tes vous votre vos",
        "override": "ignore ignorez ignorer oublie oubliez oublier contourne",
        "prior": "instruction instructions consignes règles directives prompt contexte tout",
        "weak": "précédentes précédents ci-dessus antérieures",
        "answer": "réponds répondez répondre dis dites dire écris écrivez écrire indique indiquez mentionne "
                  "affiche révèle inclus inclure donne donnez",
        "output": "utilisateur question questions réponse réponses conversation résumé",
        "ask": "demande demandé pose posé",
        "modal": "doit doivent devez dois",
        "skip": "toujours maintenant seulement uniquement simplement alors aussi veuillez",
        "negation": "ne pas jamais n",
        "conj": "et puis mais",
        "reader": "lecteur lectrice lecteurs",
        "self": "document texte page passage fichier",
        "this": "ce cette ces",
    },
    "spanish": {
        "ai": "ia modelo_de_lenguaje inteligencia_artificial",
        "assistant": "asistente asistentes",
        "human": "dirección director profesor administrativo administrativa social dental",
        "address": "para al a querido querida hola atención",
        "you": "tú te ti tu tus usted vosotros",
        "override": "ignora ignore ignorar olvida olvide olvidar omite",
        "prior": "instrucción instrucciones reglas indicaciones directrices prompt contexto todo",
        "weak": "anteriores previas previos",
        "answer": "responde responda responder contesta di diga decir escribe escriba escribir indica menciona "
                  "revela incluye incluir da",
        "output": "usuario pregunta preguntas respuesta respuestas conversación resumen",
        "ask": "pregunten pregunta preguntan preguntado",
        "modal": "debe deben debes",
        "skip": "siempre ahora solo solamente simplemente luego también por favor",
        "negation": "no nunca jamás",
        "conj": "y luego pero",
        "reader": "lector lectora lectores",
        "self": "documento texto página pasaje archivo",
        "this": "este esta estos",
    },
    "italian": {
        "ai": "ia modello_linguistico intelligenza_artificiale",
        "assistant": "assistente assistenti",
        "human": "direzione direttore professore amministrativo amministrativa sociale",
        "address": "per al alla caro cara ciao attenzione",
        "you": "tu ti te tuo tua voi vostro",
        "override": "ignora ignorare ignori dimentica dimenticare",
        "prior": "istruzione istruzioni regole indicazioni direttive prompt contesto tutto",
        "weak": "precedenti sopra",
        "answer": "rispondi rispondere risponda di dire scrivi scrivere indica menziona rivela includi dai",
        "output": "utente domanda domande risposta risposte conversazione riassunto",
        "ask": "chiedono chiede chiesto domandano",
        "modal": "deve devono devi",
        "skip": "sempre ora solo soltanto semplicemente poi anche per favore",
        "negation": "non mai",
        "conj": "e poi ma",
        "reader": "lettore lettrice lettori",
        "self": "documento testo pagina passaggio file",
        "this": "questo questa questi",
    },
    "portuguese": {
        "ai": "ia modelo_de_linguagem inteligência_artificial",
        "assistant": "assistente assistentes",
        "human": "direção diretor professor administrativo administrativa social",
        "address": "para ao à caro cara olá atenção",
        "you": "tu te ti teu tua você vocês seu sua",
        "override": "ignore ignora ignorar esqueça esquece esquecer",
        "prior": "instrução instruções regras orientações diretrizes prompt contexto tudo",
        "weak": "anteriores prévias",
        "answer": "responda responde responder diga diz dizer escreva escreve escrever indique mencione revele "
                  "inclua dê",
        "output": "usuário utilizador pergunta perguntas resposta respostas conversa resumo",
        "ask": "perguntarem pergunta perguntam perguntado",
        "modal": "deve devem",
        "skip": "sempre agora apenas só somente simplesmente depois também por favor",
        "negation": "não nunca jamais",
        "conj": "e depois mas",
        "reader": "leitor leitora leitores",
        "self": "documento texto página trecho arquivo",
        "this": "este esta estes",
    },
    "dutch": {
        "ai": "ai taalmodel kunstmatige_intelligentie",
        "assistant": "assistent assistente assistenten",
        "human": "directie directeur professor",
        "address": "voor aan beste hallo hoi let op attentie",
        "you": "je jij jou jouw u uw",
        "override": "negeer negeren vergeet vergeten",
        "prior": "instructie instructies regels richtlijnen aanwijzingen prompt context alles",
        "weak": "eerdere vorige bovenstaande",
        "answer": "antwoord antwoorden beantwoord zeg zeggen schrijf schrijven vermeld noem onthul geef",
        "output": "gebruiker vraag vragen antwoord antwoorden gesprek samenvatting",
        "ask": "vraagt gevraagd vragen",
        "modal": "moet moeten zou",
        "skip": "altijd nu alleen gewoon dan ook graag",
        "negation": "niet nooit geen",
        "conj": "en dan maar",
        "reader": "lezer lezers",
        "self": "document tekst pagina passage bestand",
        "this": "dit deze",
    },
    "swedish": {
        "ai": "ai språkmodell artificiell_intelligens",
        "assistant": "assistent assistenten assistenter",
        "human": "chef professor",
        "address": "till för kära hej obs",
        "you": "du dig din ditt dina ni er",
        "override": "ignorera glöm strunta",
        "prior": "instruktion instruktioner regler riktlinjer anvisningar prompt kontext allt",
        "weak": "tidigare föregående ovanstående",
        "answer": "svara svar säg säga skriv skriva nämn avslöja ange ge",
        "output": "användare fråga frågor svar konversation sammanfattning",
        "ask": "frågar frågade frågas",
        "modal": "måste ska bör",
        "skip": "alltid nu bara endast sedan också vänligen",
        "negation": "inte aldrig ingen",
        "conj": "och sedan men",
        "reader": "läsare läsaren",
        "self": "dokument text sida avsnitt fil",
        "this": "detta denna dessa",
    },
    "danish": {
        "ai": "ai kunstig_intelligens sprogmodel",
        "assistant": "assistent assistenten assistenter",
        "human": "chef professor",
        "address": "til for kære hej bemærk",
        "you": "du dig din dit dine i jer",
        "override": "ignorer ignorere glem",
        "prior": "instruktion instruktioner regler retningslinjer anvisninger prompt kontekst alt",
        "weak": "tidligere foregående ovenstående",
        "answer": "svar svare sig sige skriv skrive nævn afslør angiv giv",
        "output": "bruger spørgsmål svar samtale opsummering",
        "ask": "spørger spurgt spørges",
        "modal": "skal bør må",
        "skip": "altid nu kun bare så også venligst",
        "negation": "ikke aldrig ingen",
        "conj": "og så men",
        "reader": "læser læseren",
        "self": "dokument tekst side afsnit fil",
        "this": "dette denne disse",
    },
    "norwegian": {
        "ai": "ai kunstig_intelligens språkmodell",
        "assistant": "assistent assistenten assistenter",
        "human": "sjef professor",
        "address": "til for kjære hei merk",
        "you": "du deg din ditt dine dere",
        "override": "ignorer ignorere glem",
        "prior": "instruksjon instruksjoner regler retningslinjer anvisninger prompt kontekst alt",
        "weak": "tidligere forrige ovenstående",
        "answer": "svar svare si skriv skrive nevn avslør oppgi gi",
        "output": "bruker spørsmål svar samtale sammendrag",
        "ask": "spør spurt spørres",
        "modal": "skal bør må",
        "skip": "alltid nå bare kun så også vennligst",
        "negation": "ikke aldri ingen",
        "conj": "og så men",
        "reader": "leser leseren",
        "self": "dokument tekst side avsnitt fil",
        "this": "dette denne disse",
    },
    "finnish": {
        "ai": "ai tekoäly tekoälyavustaja tekoälyavustajalle tekoälylle kielimalli",
        "assistant": "avustaja avustajalle avustajan assistentti",
        "human": "johdon professori",
        "address": "huomio hei hyvä",
        "you": "sinä sinun sinua te teidän",
        "override": "ohita unohda sivuuta jätä",
        "prior": "ohje ohjeet ohjeita säännöt säännöt kehote konteksti kaikki",
        "weak": "aiemmat aiempia edelliset yllä",
        "answer": "vastaa vastaus sano kerro kirjoita mainitse paljasta anna",
        "output": "käyttäjä kysymys kysymykseen kysymykset vastaus keskustelu yhteenveto",
        "ask": "kysytään kysyy kysyttäessä",
        "modal": "täytyy pitää tulee",
        "skip": "aina nyt vain pelkästään sitten myös ole hyvä",
        "negation": "älä ei",
        "conj": "ja sitten mutta",
        "reader": "lukija lukijalle",
        "self": "asiakirja teksti sivu kohta tiedosto",
        "this": "tämä tämän",
    },
    "polish": {
        "ai": "ai model_językowy sztuczna_inteligencja",
        "assistant": "asystent asystenta asystentowi asystentka",
        "human": "dyrektora prezesa zarządu profesora",
        "address": "dla do drogi droga hej uwaga",
        "you": "ty ciebie cię tobie twój twoja twoje wy was",
        "override": "zignoruj ignoruj zapomnij pomiń",
        "prior": "instrukcja instrukcje instrukcji zasady wytyczne polecenia prompt kontekst wszystko",
        "weak": "poprzednie wcześniejsze powyższe",
        "answer": "odpowiedz odpowiadaj powiedz napisz podaj wspomnij ujawnij",
        "output": "użytkownik pytanie pytania odpowiedź odpowiedzi rozmowa podsumowanie",
        "ask": "pytają zapytany pyta",
        "modal": "musi powinien powinno należy",
        "skip": "zawsze teraz tylko po prostu potem też proszę",
        "negation": "nie nigdy",
        "conj": "i potem ale",
        "reader": "czytelnik czytelnika",
        "self": "dokument tekst strona fragment plik",
        "this": "ten ta to tego",
    },
    "russian": {
        "ai": "ai ии языковая_модель искусственный_интеллект нейросеть",
        "assistant": "ассистент ассистента ассистенту помощник помощника помощнику",
        "human": "директора руководителя профессора",
        "address": "для к дорогой уважаемый привет внимание",
        "you": "ты тебя тебе твой твоя вы вас ваш",
        "override": "игнорируй игнорируйте проигнорируй забудь забудьте пропусти",
        "prior": "инструкция инструкции инструкций правила указания промпт контекст всё все",
        "weak": "предыдущие прежние вышеуказанные",
        "answer": "ответь ответьте отвечай скажи скажите напиши напишите сообщи укажи раскрой",
        "output": "пользователь вопрос вопросы ответ ответы разговор резюме",
        "ask": "спросят спрашивают спросили",
        "modal": "должен должны следует",
        "skip": "всегда теперь сейчас только просто затем также пожалуйста",
        "negation": "не никогда",
        "conj": "и затем но",
        "reader": "читатель читателю",
        "self": "документ текст страница фрагмент файл",
        "this": "этот эта это этого",
    },
    "turkish": {
        "ai": "ai yapay_zeka dil_modeli",
        "assistant": "asistan asistana asistanı",
        "human": "müdür müdürü profesör",
        "address": "sevgili merhaba dikkat",
        "you": "sen seni sana senin siz sizin",
        "override": "yok_say görmezden_gel unut",
        "prior": "talimat talimatları kurallar yönergeler komut bağlam her_şeyi",
        "weak": "önceki yukarıdaki",
        "answer": "cevap_ver yanıt_ver söyle yaz belirt açıkla",
        "output": "kullanıcı soru sorular cevap yanıt konuşma özet",
        "ask": "sorulursa sorarsa sorulduğunda",
        "modal": "gerekir zorunda malı meli",
        "skip": "her_zaman şimdi sadece yalnızca sonra ayrıca lütfen",
        "negation": "değil asla",
        "conj": "ve sonra ama",
        "reader": "okuyucu okuyucuya",
        "self": "belge metin sayfa bölüm dosya",
        "this": "bu",
    },
    "indonesian": {
        "ai": "ai model_bahasa kecerdasan_buatan",
        "assistant": "asisten",
        "human": "direktur manajer profesor",
        "address": "untuk kepada halo hai perhatian",
        "you": "kamu anda engkau",
        "override": "abaikan lupakan",
        "prior": "instruksi petunjuk aturan pedoman perintah prompt konteks semua",
        "weak": "sebelumnya di_atas",
        "answer": "jawab balas katakan tulis sebutkan ungkapkan berikan",
        "output": "pengguna pertanyaan jawaban balasan percakapan ringkasan",
        "ask": "ditanya bertanya tanya",
        "modal": "harus wajib perlu",
        "skip": "selalu sekarang hanya saja lalu juga tolong",
        "negation": "jangan tidak",
        "conj": "dan lalu tetapi",
        "reader": "pembaca",
        "self": "dokumen teks halaman bagian berkas",
        "this": "ini",
    },
    "catalan": {
        "ai": "ia model_de_llenguatge intel·ligència_artificial",
        "assistant": "assistent assistenta",
        "human": "direcció director professor",
        "address": "per al benvolgut hola atenció",
        "you": "tu et teu teva vosaltres",
        "override": "ignora ignorar oblida oblidar",
        "prior": "instrucció instruccions regles indicacions directrius prompt context tot",
        "weak": "anteriors prèvies",
        "answer": "respon respondre digues dir escriu escriure indica esmenta revela inclou",
        "output": "usuari pregunta preguntes resposta respostes conversa resum",
        "ask": "preguntin pregunta pregunten",
        "modal": "ha han cal",
        "skip": "sempre ara només simplement després també si us plau",
        "negation": "no mai",
        "conj": "i després però",
        "reader": "lector lectora",
        "self": "document text pàgina fragment fitxer",
        "this": "aquest aquesta",
    },
    "romanian": {
        "ai": "ia model_de_limbaj inteligență_artificială",
        "assistant": "asistent asistentul asistentului asistentă",
        "human": "director profesor",
        "address": "pentru către dragă salut atenție",
        "you": "tu te ție tău ta voi dumneavoastră",
        "override": "ignoră ignorați uită uitați",
        "prior": "instrucțiune instrucțiunile instrucțiuni reguli indicații directive prompt context tot",
        "weak": "anterioare precedente",
        "answer": "răspunde răspundeți spune spuneți scrie scrieți indică menționează dezvăluie include",
        "output": "utilizator întrebare întrebări răspuns răspunsuri conversație rezumat",
        "ask": "întreabă întrebat",
        "modal": "trebuie",
        "skip": "întotdeauna mereu acum doar numai apoi de asemenea vă rog",
        "negation": "nu niciodată",
        "conj": "și apoi dar",
        "reader": "cititor cititorul",
        "self": "document text pagină pasaj fișier",
        "this": "acest această",
    },
    "czech": {
        "ai": "ai jazykový_model umělá_inteligence",
        "assistant": "asistent asistenta asistentovi asistentko",
        "human": "ředitele profesora",
        "address": "pro k milý ahoj pozor",
        "you": "ty tě tobě tvůj tvoje vy vás váš",
        "override": "ignoruj ignorujte zapomeň zapomeňte",
        "prior": "instrukce pokyny pravidla zásady prompt kontext všechno vše",
        "weak": "předchozí dřívější výše",
        "answer": "odpověz odpovězte řekni řekněte napiš napište uveď zmiň prozraď",
        "output": "uživatel otázka otázky odpověď odpovědi konverzace shrnutí",
        "ask": "zeptá ptá zeptají",
        "modal": "musí má měl",
        "skip": "vždy nyní teď jen pouze prostě pak také prosím",
        "negation": "ne nikdy",
        "conj": "a pak ale",
        "reader": "čtenář čtenáři",
        "self": "dokument text stránka pasáž soubor",
        "this": "tento tato toto",
    },
}
LANGUAGES = tuple(_WORDS)


@dataclass(frozen=True)
class DirectiveScore:
    """The classifier's verdict on one sentence: its score, the language that gave it, the features that fired."""

    score: float
    language: str = ""
    features: tuple[str, ...] = ()

    @property
    def directive(self) -> bool:
        return self.score >= THRESHOLD


@dataclass(frozen=True)
class _Lexicon:
    language: str
    stem: Callable[[list[str]], list[str]]
    words: dict[str, frozenset[str]]  # feature -> stems of its single words
    phrases: dict[str, tuple[tuple[str, ...], ...]]  # feature -> stems of its multi-word phrases


def is_directive(sentence: str) -> bool:
    """Whether ``sentence`` addresses an assistant or a reader with an instruction (see the module docstring)."""
    return score(sentence).directive


def score(sentence: str) -> DirectiveScore:
    """The best score of ``sentence`` over the known languages."""
    lowered = sentence.lower()
    matches = list(_TOKEN.finditer(lowered))
    if not matches:
        return DirectiveScore(0.0)
    tokens = [m.group() for m in matches]
    starts = _clause_starts(lowered, matches)
    preamble = _preamble_length(lowered, matches)
    phrase = 1.5 if _PHRASES.search(sentence) else 0.0
    best = DirectiveScore(phrase, "", ("known phrase",) if phrase else ())
    for lexicon in _lexicons():
        result = _score(lexicon, tokens, starts, preamble, phrase)
        if result.score > best.score:
            best = result
    return best


def _score(lex: _Lexicon, tokens: list[str], starts: list[bool], preamble: int, phrase: float) -> DirectiveScore:
    stems = lex.stem(list(tokens))
    hit = {feature: _positions(lex, feature, tokens, stems) for feature in lex.words}
    features: list[str] = []
    total = phrase
    if phrase:
        features.append("known phrase")
    ai = hit["ai"] | {i for i in hit["assistant"] if not _human(i, hit["human"])}

    def framed(positions: set[int]) -> bool:
        return any(_framed(i, hit, preamble) for i in positions)

    addressed = framed(ai)
    if addressed:
        total, features = total + 2.5, features + ["addresses an AI"]
    elif ai:
        total, features = total + 1.0, features + ["mentions an AI"]
    if framed(hit["reader"]):
        total, features = total + 1.5, features + ["addresses a reader"]
    opens = [start or (i - 1) in hit["conj"] for i, start in enumerate(starts)]  # "... and reply"
    imperative = _imperatives(hit, opens, len(tokens))
    override_imp = bool(imperative & hit["override"])
    answer_imp = bool(imperative & hit["answer"])
    override_any = bool(hit["override"] - _negated(hit, len(tokens)))
    if hit["prior"] and (override_imp or (addressed and override_any)):
        total, features = total + 3.0, features + ["overrides instructions"]
    elif hit["prior"] and override_any:
        total, features = total + 1.5, features + ["mentions overriding instructions"]
    elif hit["weak"] and override_imp:
        total, features = total + 1.5, features + ["overrides what came before"]
    if override_imp and answer_imp:
        total, features = total + 1.0, features + ["override then answer"]
    for name, weight, fired in (
            ("answer verb", 0.75, bool(hit["answer"])),
            ("output noun", 0.5, bool(hit["output"])),
            ("asked then answer", 0.75, bool(hit["ask"]) and bool(hit["answer"])),
            ("imperative", 0.5, bool(imperative)),
            ("second person", 0.25, bool(hit["you"])),
            ("self-reference", 1.0, _self_reference(hit) and bool(hit["answer"]))):
        if fired:
            total, features = total + weight, features + [name]
    return DirectiveScore(round(total, 2), lex.language, tuple(features))


def _positions(lex: _Lexicon, feature: str, tokens: list[str], stems: list[str]) -> set[int]:
    words = lex.words[feature]
    found = {i for i, (t, s) in enumerate(zip(tokens, stems)) if s in words or t in words}
    for phrase in lex.phrases.get(feature, ()):
        n = len(phrase)
        for i in range(len(stems) - n + 1):
            if tuple(stems[i:i + n]) == phrase or tuple(tokens[i:i + n]) == phrase:
                found.update(range(i, i + n))
    return found


def _human(i: int, human: set[int]) -> bool:
    """An assistant word next to a role word is a person ("assistant manager", "teaching assistants")."""
    return (i - 1) in human or (i + 1) in human


def _framed(i: int, hit: dict[str, set[int]], preamble: int) -> bool:
    """Whether the word at ``i`` is addressed: after an address word or "you", in a short preamble before a
    colon, or followed by a deontic modal ("the assistant should")."""
    before = range(max(0, i - _ADDRESS_WINDOW), i)
    if any(j in hit["address"] for j in before) or any(j in hit["you"] for j in range(max(0, i - 3), i)):
        return True
    if i < preamble:
        return True
    return any(j in hit["modal"] for j in range(i + 1, i + 1 + _MODAL_WINDOW))


def _imperatives(hit: dict[str, set[int]], starts: list[bool], count: int) -> set[int]:
    """Positions of verbs that open a clause (after skippable words such as "please", "always"), not negated."""
    out = set()
    for i in range(count):
        if not starts[i]:
            continue
        j, negated = i, False
        while j < count and (j in hit["skip"] or j in hit["negation"]) and j - i < 4:
            negated = negated or j in hit["negation"]
            j += 1
        if j < count and not negated and (j in hit["override"] or j in hit["answer"]):
            out.add(j)
    return out


def _negated(hit: dict[str, set[int]], count: int) -> set[int]:
    return {i for i in range(count) if any(j in hit["negation"] for j in range(max(0, i - 2), i))}


def _self_reference(hit: dict[str, set[int]]) -> bool:
    return any(i - 1 in hit["this"] for i in hit["self"])


def _clause_starts(text: str, matches: list[re.Match]) -> list[bool]:
    """For each token: does a clause start there (sentence start, after , ; : or a dash)?"""
    starts = []
    for k, match in enumerate(matches):
        gap = text[matches[k - 1].end():match.start()] if k else ""
        starts.append(k == 0 or bool(_CLAUSE_BREAK.search(gap)))
    return starts


def _preamble_length(text: str, matches: list[re.Match]) -> int:
    """Tokens before the first colon when there are few of them ("Note for the assistant:"), else 0."""
    colon = text.find(":")
    if colon < 0:
        return 0
    count = sum(1 for m in matches if m.end() <= colon)
    return count if count <= _PREAMBLE_TOKENS else 0


@functools.lru_cache(maxsize=1)
def _lexicons() -> tuple[_Lexicon, ...]:
    """The stemmed lexicons (built once: they are constants)."""
    import Stemmer

    out = []
    for language, table in _WORDS.items():
        stemmer = Stemmer.Stemmer(language)
        words: dict[str, frozenset[str]] = {}
        phrases: dict[str, tuple[tuple[str, ...], ...]] = {}
        for feature, text in table.items():
            entries = text.split() + (_UNIVERSAL_AI.split() if feature == "ai" else [])
            single = [e for e in entries if "_" not in e]
            words[feature] = frozenset(stemmer.stemWords(single)) | frozenset(single)
            phrases[feature] = tuple(tuple(stemmer.stemWords(_TOKEN.findall(e.replace("_", " "))))
                                     for e in entries if "_" in e)
        out.append(_Lexicon(language, stemmer.stemWords, words, phrases))
    return tuple(out)
